// resources.js - the resource state an answer carries beside a slow
// request, a bottleneck or a recommendation (the API's `resources` object,
// docs/API.md: CPU, memory and pool use of the service's metric points
// nearest a moment), as one line of text, and the line the Bottlenecks and
// Recommendations views show, with the server's reason when there is none.

import { h } from './dom.js';
import { fmtTime } from './format.js';
import { fmtNum } from './charts/units.js';

// CPU (a fraction of one core) at or above this reads as saturated, as the
// bottleneck ranking judges it.
const CPU_SATURATED = 0.85;

// "CPU 42 % · memory 512 MiB · pool 10 of 10", the measures present.
export function resourceText(res) {
  if (!res) return '';
  const parts = [];
  if (res.cpu_utilization != null) parts.push(`CPU ${fmtNum(res.cpu_utilization * 100)} %`);
  if (res.memory_bytes != null) parts.push(`memory ${fmtNum(res.memory_bytes / 1048576)} MiB`);
  if (res.db_connections_used != null) {
    parts.push(`pool ${fmtNum(res.db_connections_used)}${res.db_connections_max != null ? ` of ${fmtNum(res.db_connections_max)}` : ''}`);
  } else if (res.db_connections_max != null) {
    parts.push(`pool of ${fmtNum(res.db_connections_max)}`);
  }
  return parts.join(' · ');
}

// Whether the state shows pressure: CPU saturated or the pool full.
export function resourceStrained(res) {
  if (!res) return false;
  const cpu = res.cpu_utilization != null && res.cpu_utilization >= CPU_SATURATED;
  const pool = res.db_connections_used != null && res.db_connections_max != null
    && res.db_connections_max > 0 && res.db_connections_used >= res.db_connections_max;
  return cpu || pool;
}

// One line: "Resources of SERVICE at TIME (WHEN): CPU … · memory … · pool …",
// or the reason there are none.
export function resourceLine(res, reason, { service, when }) {
  if (!res) {
    return h('p', { class: 'res-state res-none muted small', dataset: { resources: 'none' } },
      `No resource state${service ? ` of ${service}` : ''}: ${reason || 'no metrics near that time'}.`);
  }
  const strained = resourceStrained(res);
  return h('p', {
    class: `res-state small${strained ? ' res-strained' : ''}`,
    dataset: { resources: 'state', cpu: res.cpu_utilization == null ? '' : String(res.cpu_utilization) },
    title: `the metric point nearest ${fmtTime(res.at_ms)} was at ${fmtTime(res.time_ms)}`,
  },
  h('span', { class: 'muted' }, `Resources${service ? ` of ${service}` : ''} at ${fmtTime(res.at_ms)}${when ? ` (${when})` : ''}: `),
  h('span', { class: 'mono' }, resourceText(res)));
}
