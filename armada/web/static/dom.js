// Tiny DOM helpers. Every string that reaches the page goes through a text node or an attribute value:
// nothing in this client ever parses HTML, so user content (messages, names, filenames) cannot inject markup.

/**
 * Create an element. `props` sets attributes, except:
 *   `class` -> className, `text` -> textContent, `on<event>` -> listener, `checked`/`value`/`disabled` -> properties.
 * Children may be nodes, strings (become text nodes), or null/false (skipped); arrays are flattened.
 */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
    else if (key === 'checked' || key === 'value' || key === 'disabled') node[key] = value;
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  append(node, children);
  return node;
}

/** Append children (nodes, strings as text, nested arrays; null/false skipped). */
export function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

/**
 * Make `container`'s children exactly `nodes`, in order, moving only the nodes that are out of place.
 * Untouched nodes keep their focus and scroll state, which a full re-render would lose.
 */
export function reconcile(container, nodes) {
  nodes.forEach((node, index) => {
    const current = container.children[index];
    if (current !== node) container.insertBefore(node, current || null);
  });
  while (container.children.length > nodes.length) container.lastElementChild.remove();
}

/**
 * Run `redraw()`, which replaces `container`'s content; if a button inside had keyboard focus, focus its successor
 * (same text, else same place), so a live update (someone else's reaction) does not throw focus to the page.
 */
export function keepFocus(container, redraw) {
  const focused = document.activeElement;
  const had = focused?.tagName === 'BUTTON' && container.contains(focused);
  const index = had ? [...container.querySelectorAll('button')].indexOf(focused) : -1;
  const text = had ? focused.textContent : null;
  redraw();
  if (!had || container.contains(focused)) return;
  const buttons = [...container.querySelectorAll('button')];
  (buttons.find((b) => b.textContent === text) || buttons[index])?.focus();
}

/** A unique id for aria-labelledby/aria-describedby links. */
let idCounter = 0;
export function uniqueId(prefix) {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}

/**
 * Only http(s) URLs become links or image sources: a `javascript:` or `data:` URL in a message could
 * otherwise run script or spoof content when clicked.
 */
export function safeUrl(url) {
  if (typeof url !== 'string' || url === '') return null;
  try {
    const parsed = new URL(url, location.href);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.href : null;
  } catch {
    return null;
  }
}

/** A random id for `client_id`; crypto.randomUUID exists only in secure contexts, getRandomValues everywhere. */
export function randomId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Call `fn` once calls have stopped for `ms` milliseconds. */
export function debounce(fn, ms) {
  let timer = null;
  const debounced = (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
  debounced.cancel = () => clearTimeout(timer);
  return debounced;
}
