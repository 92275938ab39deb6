// markdown.js - a small Markdown-to-DOM converter for the pages the server
// serves (/docs/recommendations/*.md): headings, paragraphs, lists (nested
// by indentation), fenced and indented code blocks, block quotes, rules,
// pipe tables, and inline code, links, bold and italics.
//
// The text is never parsed as HTML: every piece reaches the page as a text
// node or an attribute value set through the DOM, so markup in the page
// (<script>, <img onerror>) shows as the characters it is.  Links keep only
// http(s), mailto, same-site paths and fragments; any other scheme
// (javascript:, data:) leaves the link text without a link.

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([\w+-]*)/;
const HEADING = /^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const RULE = /^ {0,3}([-*_])(\s*\1){2,}\s*$/;
const ITEM = /^( *)([-*+]|\d{1,9}[.)])\s+(.*)$/;
const QUOTE = /^ {0,3}>\s?(.*)$/;
const TABLE_SEP = /^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$/;

// `base`: the page's own URL, against which relative links resolve.
export function markdownToDom(text, { base = window.location.href } = {}) {
  const root = document.createDocumentFragment();
  const lines = String(text).replace(/\r\n?/g, '\n').split('\n');
  parseBlocks(lines, root, base);
  return root;
}

// One line of inline Markdown (code, links, emphasis) as a fragment: for
// the server's sentences that quote code in backticks.
export function inlineMarkdown(text, { base = window.location.href } = {}) {
  return inline(document.createDocumentFragment(), String(text), base);
}

function el(tag, ...children) {
  const node = document.createElement(tag);
  for (const c of children) node.append(c);
  return node;
}

const blank = (line) => /^\s*$/.test(line);

function parseBlocks(lines, parent, base) {
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (blank(line)) { i++; continue; }

    const fence = FENCE.exec(line);
    if (fence) {
      const body = [];
      i++;
      while (i < lines.length && !lines[i].trimStart().startsWith(fence[1])) body.push(lines[i++]);
      i++; // the closing fence (or the end)
      parent.append(codeBlock(body.join('\n'), fence[2]));
      continue;
    }
    if (/^( {4}|\t)/.test(line)) {
      const body = [];
      while (i < lines.length && (/^( {4}|\t)/.test(lines[i]) || (blank(lines[i]) && i + 1 < lines.length && /^( {4}|\t)/.test(lines[i + 1])))) {
        body.push(lines[i++].replace(/^( {4}|\t)/, ''));
      }
      parent.append(codeBlock(body.join('\n'), ''));
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading) {
      parent.append(inline(el(`h${heading[1].length}`), heading[2], base));
      i++;
      continue;
    }
    if (RULE.test(line)) {
      parent.append(el('hr'));
      i++;
      continue;
    }
    if (QUOTE.test(line)) {
      const body = [];
      while (i < lines.length && !blank(lines[i]) && QUOTE.test(lines[i])) body.push(QUOTE.exec(lines[i++])[1]);
      const quote = el('blockquote');
      parseBlocks(body, quote, base);
      parent.append(quote);
      continue;
    }
    if (ITEM.test(line)) {
      i = parseList(lines, i, parent, base);
      continue;
    }
    if (line.includes('|') && i + 1 < lines.length && TABLE_SEP.test(lines[i + 1])) {
      i = parseTable(lines, i, parent, base);
      continue;
    }
    // A paragraph: up to a blank line or the start of another block.
    const para = [];
    while (i < lines.length && !blank(lines[i]) && !startsBlock(lines[i])) para.push(lines[i++].trim());
    if (!para.length) para.push(lines[i++].trim());
    parent.append(inline(el('p'), para.join(' '), base));
  }
}

function startsBlock(line) {
  return FENCE.test(line) || HEADING.test(line) || RULE.test(line) || QUOTE.test(line) || ITEM.test(line);
}

function codeBlock(text, lang) {
  const code = el('code', text);
  if (lang) code.className = `language-${lang}`;
  return el('pre', code);
}

// A list starting at lines[i]; items indented deeper than the first are
// nested lists or continuation text.  Returns the index after the list.
function parseList(lines, i, parent, base) {
  const first = ITEM.exec(lines[i]);
  const indent = first[1].length;
  const ordered = /\d/.test(first[2]);
  const list = el(ordered ? 'ol' : 'ul');
  if (ordered && parseInt(first[2], 10) !== 1) list.setAttribute('start', String(parseInt(first[2], 10)));
  while (i < lines.length) {
    const m = ITEM.exec(lines[i]);
    if (!m || m[1].length !== indent || /\d/.test(m[2]) !== ordered) break;
    // The item: its first line, then lines indented under it (or lazy
    // continuation lines) up to the next item at this level.
    const body = [m[3]];
    i++;
    while (i < lines.length) {
      const next = lines[i];
      if (blank(next)) {
        // A blank line stays in the item when what follows is indented under it.
        const after = lines[i + 1];
        if (after !== undefined && !blank(after) && leading(after) > indent) { body.push(''); i++; continue; }
        break;
      }
      const nm = ITEM.exec(next);
      if (nm && nm[1].length <= indent) break;
      if (!nm && leading(next) <= indent && startsBlock(next)) break;
      body.push(next.slice(Math.min(leading(next), indent + 2)));
      i++;
    }
    const li = el('li');
    // A single line of text stays inline; anything more is parsed as blocks.
    if (body.length === 1 || body.slice(1).every((b) => !blank(b) && !startsBlock(b))) {
      inline(li, body.map((b) => b.trim()).join(' '), base);
    } else {
      const textLines = [];
      let k = 0;
      while (k < body.length && !blank(body[k]) && (k === 0 || !startsBlock(body[k]))) textLines.push(body[k++].trim());
      inline(li, textLines.join(' '), base);
      if (k < body.length) parseBlocks(body.slice(k), li, base);
    }
    list.append(li);
    while (i < lines.length && blank(lines[i]) && i + 1 < lines.length) {
      const after = ITEM.exec(lines[i + 1]);
      if (after && after[1].length === indent) { i++; continue; }
      break;
    }
  }
  parent.append(list);
  return i;
}

const leading = (line) => line.length - line.trimStart().length;

function cells(line) {
  let s = line.trim();
  if (s.startsWith('|')) s = s.slice(1);
  if (s.endsWith('|') && !s.endsWith('\\|')) s = s.slice(0, -1);
  return s.split(/(?<!\\)\|/).map((c) => c.trim().replace(/\\\|/g, '|'));
}

function parseTable(lines, i, parent, base) {
  const head = cells(lines[i]);
  const aligns = cells(lines[i + 1]).map((c) => (c.endsWith(':') ? (c.startsWith(':') ? 'center' : 'right') : null));
  i += 2;
  const table = el('table');
  const tr = el('tr');
  head.forEach((c, k) => {
    const th = inline(el('th'), c, base);
    if (aligns[k]) th.style.textAlign = aligns[k];
    tr.append(th);
  });
  table.append(el('thead', tr));
  const tbody = el('tbody');
  while (i < lines.length && !blank(lines[i]) && lines[i].includes('|')) {
    const row = el('tr');
    cells(lines[i]).forEach((c, k) => {
      if (k >= head.length) return;
      const td = inline(el('td'), c, base);
      if (aligns[k]) td.style.textAlign = aligns[k];
      row.append(td);
    });
    tbody.append(row);
    i++;
  }
  table.append(tbody);
  parent.append(table);
  return i;
}

// --- inline ------------------------------------------------------------------

// Appends the inline content of `text` to `node` and returns `node`.
function inline(node, text, base) {
  let i = 0;
  let plain = '';
  const flush = () => { if (plain) { node.append(document.createTextNode(plain)); plain = ''; } };
  while (i < text.length) {
    const c = text[i];
    if (c === '\\' && i + 1 < text.length && /[\\`*_[\]()#+\-.!|<>~]/.test(text[i + 1])) {
      plain += text[i + 1];
      i += 2;
      continue;
    }
    if (c === '`') {
      const ticks = /^`+/.exec(text.slice(i))[0];
      const end = text.indexOf(ticks, i + ticks.length);
      if (end > 0) {
        flush();
        node.append(el('code', text.slice(i + ticks.length, end).trim() || text.slice(i + ticks.length, end)));
        i = end + ticks.length;
        continue;
      }
    }
    if (c === '[') {
      const link = parseLink(text, i);
      if (link) {
        flush();
        node.append(linkNode(link.label, link.href, base));
        i = link.end;
        continue;
      }
    }
    if (c === '<') {
      const auto = /^<(https?:\/\/[^\s<>]+)>/.exec(text.slice(i));
      if (auto) {
        flush();
        node.append(linkNode(auto[1], auto[1], base, true));
        i += auto[0].length;
        continue;
      }
    }
    if ((c === '*' || c === '_') && text[i + 1] === c) {
      const end = text.indexOf(c + c, i + 2);
      if (end > i + 2) {
        flush();
        node.append(inline(el('strong'), text.slice(i + 2, end), base));
        i = end + 2;
        continue;
      }
    }
    if ((c === '*' || c === '_') && text[i + 1] && text[i + 1] !== ' ' && (c === '*' || !/\w/.test(text[i - 1] || ''))) {
      let end = i + 1;
      for (;;) {
        end = text.indexOf(c, end);
        if (end < 0 || text[end + 1] !== c) break;
        end += 2;
      }
      if (end > i + 1 && text[end - 1] !== ' ' && (c === '*' || !/\w/.test(text[end + 1] || ''))) {
        flush();
        node.append(inline(el('em'), text.slice(i + 1, end), base));
        i = end + 1;
        continue;
      }
    }
    plain += c;
    i++;
  }
  flush();
  return node;
}

// [label](href "title") at text[i]: {label, href, end} or null.
function parseLink(text, i) {
  let depth = 0;
  let j = i;
  for (; j < text.length; j++) {
    if (text[j] === '\\') { j++; continue; }
    if (text[j] === '[') depth++;
    else if (text[j] === ']' && --depth === 0) break;
  }
  if (j >= text.length || text[j + 1] !== '(') return null;
  const close = text.indexOf(')', j + 2);
  if (close < 0) return null;
  const target = text.slice(j + 2, close).trim();
  const href = target.split(/\s+/)[0].replace(/^<(.*)>$/, '$1');
  return { label: text.slice(i + 1, j), href, end: close + 1 };
}

function linkNode(label, href, base, literal = false) {
  const url = safeUrl(href, base);
  const content = literal ? document.createTextNode(label) : inline(document.createDocumentFragment(), label, base);
  if (!url) return el('span', content);
  const a = el('a', content);
  a.setAttribute('href', url.href);
  if (url.external) {
    a.setAttribute('target', '_blank');
    a.setAttribute('rel', 'noopener noreferrer');
  }
  return a;
}

// The link target, resolved, if it is safe to follow; else null.
function safeUrl(href, base) {
  let u;
  try { u = new URL(href, base); } catch { return null; }
  if (!['http:', 'https:', 'mailto:'].includes(u.protocol)) return null;
  return { href: u.href, external: u.origin !== window.location.origin };
}
