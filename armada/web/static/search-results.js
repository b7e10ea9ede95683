// One message search result as a list item: a button (choosing it opens the room at the message) showing the sender,
// the room, the time and the text, with the words that matched in <mark>. The text is untrusted: it only ever
// becomes text nodes.

import { el } from './dom.js';
import { shortTimeLabel } from './format.js';
import { nameOf, roomTitle, state } from './store.js';

const SNIPPET_POINTS = 240; // a longer message shows this many code points, around its first match
const LEAD_POINTS = 60; // of them, at most this many before the first match

/**
 * `content` as nodes: text, with each highlighted span in a <mark>. `highlights` are the server's `[start, end)`
 * offsets in Unicode code points, which a JS string (UTF-16) does not index: an emoji before a match takes two
 * string positions but one code point. So the text is split into code points first (Array.from), and sliced there.
 * A long text is cut to a snippet around its first match, with "…" where it was cut.
 */
export function highlightedText(content, highlights) {
  const points = Array.from(content || '');
  const spans = (highlights || [])
    .map(([start, end]) => [Math.max(0, start), Math.min(points.length, end)])
    .filter(([start, end]) => start < end)
    .sort((a, b) => a[0] - b[0]);
  let from = 0;
  if (points.length > SNIPPET_POINTS) {
    const first = spans[0]?.[0] ?? 0;
    from = Math.max(0, Math.min(first - LEAD_POINTS, points.length - SNIPPET_POINTS));
  }
  const to = Math.min(points.length, from + SNIPPET_POINTS);
  const nodes = from > 0 ? ['…'] : [];
  let at = from;
  for (const [start, end] of spans) {
    const markFrom = Math.max(start, at); // an overlapping span continues where the previous one ended
    const markTo = Math.min(end, to);
    if (markFrom >= markTo) continue;
    if (markFrom > at) nodes.push(points.slice(at, markFrom).join(''));
    nodes.push(el('mark', {}, points.slice(markFrom, markTo).join('')));
    at = markTo;
  }
  if (at < to) nodes.push(points.slice(at, to).join(''));
  if (to < points.length) nodes.push('…');
  return nodes;
}

/** The name a result shows for its room: the room's title, if this client knows the room. */
function roomLabel(roomId) {
  const room = state.rooms.get(roomId);
  return room ? roomTitle(room) : 'a room';
}

/** A result `{message, room_id, highlights}` as an <li> holding a button; `choose(result)` runs when it is chosen. */
export function resultItem(result, choose) {
  const { message } = result;
  const created = new Date(message.created_at);
  const button = el(
    'button',
    { type: 'button', class: 'search-result', 'data-message-id': message.id, onclick: () => choose(result) },
    el(
      'span',
      { class: 'search-result-meta' },
      el('span', { class: 'sender' }, nameOf(message.sender_id)),
      ' in ',
      el('span', { class: 'search-result-room' }, roomLabel(result.room_id)),
      ' · ',
      el('time', { datetime: message.created_at, title: created.toLocaleString() }, shortTimeLabel(created)),
      message.thread_root_id ? ' · in a thread' : null,
    ),
    el('span', { class: 'search-result-text' }, highlightedText(message.content, result.highlights)),
  );
  return el('li', {}, button);
}
