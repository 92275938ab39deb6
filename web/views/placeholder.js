// placeholder.js - the honest stand-in for a view that is not built yet: it
// says what will be there and shows no invented numbers.

import { h } from '../lib/dom.js';
import { readState, patchState, queryOf } from '../lib/state.js';

export function placeholder(title, purpose, planned) {
  return function mountPlaceholder(el) {
    el.append(h('section', { class: 'placeholder', 'aria-labelledby': 'placeholder-title' },
      h('div', { class: 'view-head' },
        h('h1', { id: 'placeholder-title', class: 'view-title' }, title),
        h('span', { class: 'badge badge-muted' }, 'Not yet available')),
      h('p', { class: 'placeholder-lead' }, purpose),
      h('p', { class: 'muted' },
        'This view is not built yet, so it shows nothing rather than made-up charts. ',
        'The ', h('a', { href: `${window.location.pathname}${queryOf(patchState(readState(), { view: '' }))}` }, 'Traces'),
        ' view works today.'),
      h('h2', { class: 'section-title' }, 'Planned'),
      h('ul', { class: 'placeholder-list' }, planned.map((item) => h('li', null, item)))));
  };
}
