// Links in message text: http:// and https:// URLs become links that open in a new tab; everything else, other
// schemes included (javascript:, data:, ...), stays plain text. Only text nodes and <a> elements are made, never
// parsed markup.

import { el } from './dom.js';

// A URL starts at "http://" or "https://" (not inside a word) and runs to the next space or angle bracket/quote.
const URL_START = /\bhttps?:\/\/[^\s<>"]+/gi;
const TRAILING = /[.,;:!?'*_~]$/; // sentence punctuation after a URL belongs to the sentence
const CLOSERS = { ')': '(', ']': '[', '}': '{' };

/** `candidate` without the punctuation that ends the sentence rather than the URL (an unbalanced ')' included). */
function trimUrl(candidate) {
  let url = candidate;
  for (;;) {
    const last = url.slice(-1);
    if (TRAILING.test(last)) {
      url = url.slice(0, -1);
    } else if (CLOSERS[last] && count(url, last) > count(url, CLOSERS[last])) {
      url = url.slice(0, -1);
    } else {
      return url;
    }
  }
}

function count(text, char) {
  return text.split(char).length - 1;
}

/** The link target for a URL found in text, or null when it is no http(s) URL after all. */
function linkTarget(text) {
  try {
    const parsed = new URL(text);
    return (parsed.protocol === 'http:' || parsed.protocol === 'https:') && parsed.hostname ? parsed.href : null;
  } catch {
    return null;
  }
}

/** Message text as nodes: text nodes, and an <a target=_blank> for each http(s) URL in it. */
export function linkify(text) {
  const nodes = [];
  let from = 0;
  for (const match of text.matchAll(URL_START)) {
    const url = trimUrl(match[0]);
    const href = linkTarget(url);
    if (!href) continue;
    if (match.index > from) nodes.push(document.createTextNode(text.slice(from, match.index)));
    nodes.push(el('a', { href, target: '_blank', rel: 'noopener noreferrer' }, url));
    from = match.index + url.length;
  }
  if (from < text.length) nodes.push(document.createTextNode(text.slice(from)));
  return nodes;
}
