// One message drawn as its <article>: header (sender, time, tags), the quoted reply, text and media, reactions, the
// thread summary, a footer ("(edited)", the read receipt) and the action buttons. It only draws: what the buttons do
// comes from the pane, as hooks. The room's timeline and the thread pane both draw their messages here.

import { el, keepFocus, safeUrl } from './dom.js';
import { openEditHistory } from './edit-history.js';
import { dayLabel, fileSize, messageSummary, timeLabel } from './format.js';
import { linkify } from './links.js';
import { mentionText } from './mentions.js';
import { pinnedTag } from './pins.js';
import { openEmojiPicker, reactionBar } from './reactions.js';
import { isAdmin, nameOf, state } from './store.js';

/** A day separator (role "separator", named by the day: "Today", "Yesterday", a date). */
export function daySeparator(date) {
  const label = dayLabel(date);
  return el('div', { class: 'day-separator', role: 'separator', 'aria-label': label }, el('span', {}, label));
}

/** "1 reply", "3 replies". */
export function replyCountLabel(thread) {
  const count = thread?.reply_count || 0;
  return `${count} ${count === 1 ? 'reply' : 'replies'}`;
}

/** The root's "N replies" button in the main timeline, or null while it has none. */
function threadSummaryButton(message, onOpen) {
  if (!message.thread?.reply_count) return null;
  const label = replyCountLabel(message.thread);
  return el('button', { type: 'button', class: 'link-button thread-summary', onclick: onOpen }, label);
}

/** The sender or an admin of the room may delete a message (the server's rule). */
export function canDelete(room, message) {
  return message.sender_id === state.me.id || isAdmin(room);
}

/**
 * (Re)draw `message` into its `article`. `hooks` (from the pane): react(message, emoji, on), edit(message),
 * remove(message), canDelete(message), current(message) -> the copy held now, receipt(message) -> its receipt
 * <span> or null, imageLoaded(), showError(failure); and where they apply (the thread pane leaves them out):
 * openThread(message), reply(message), forward(message), pin(message, on), canPin().
 */
export function drawMessage(article, message, hooks) {
  const own = message.sender_id === state.me.id;
  const created = new Date(message.created_at);
  article.classList.toggle('own', own);
  article.classList.toggle('deleted', message.is_deleted);

  const header = el(
    'header',
    { class: 'message-header' },
    el('span', { class: 'sender' }, nameOf(message.sender_id)),
    ' ',
    el('time', { datetime: message.created_at, title: created.toLocaleString() }, timeLabel(created)),
    message.forwarded_from_id && !message.is_deleted && el('span', { class: 'tag forwarded' }, 'Forwarded'),
    pinnedTag(message),
  );
  const parts = [header];
  if (message.is_deleted) {
    parts.push(el('p', { class: 'tombstone' }, 'This message was deleted'));
  } else {
    if (message.reply_to) parts.push(quote(message.reply_to));
    parts.push(...messageBody(message, hooks.imageLoaded));
    const toggle = (emoji, on) => hooks.react(message, emoji, on).catch((failure) => hooks.showError(failure));
    const reactions = reactionBar(message, toggle);
    if (reactions) parts.push(reactions);
  }
  const replies = hooks.openThread && threadSummaryButton(message, () => hooks.openThread(message));
  if (replies) parts.push(replies);
  // The footer holds "(edited)" and the receipt, and is left out when it has neither. The action buttons float
  // over the message (see styles.css), so an article takes no room for buttons it does not show.
  const footer = el('footer', { class: 'message-footer' });
  if (message.is_edited && !message.is_deleted) footer.append(el('span', { class: 'edited' }, '(edited)'));
  const receipt = hooks.receipt(message);
  if (receipt) footer.append(receipt);
  if (footer.childNodes.length) parts.push(footer);
  const actions = message.is_deleted ? null : actionButtons(article, message, own, hooks);
  if (actions?.childElementCount) parts.push(actions);
  keepFocus(article, () => article.replaceChildren(...parts));
  return article;
}

/** The quoted preview of the message a reply answers. */
function quote(preview) {
  const text = preview.is_deleted ? 'Deleted message' : messageSummary(preview);
  return el(
    'blockquote',
    { class: 'reply-quote' },
    el('span', { class: 'reply-sender' }, nameOf(preview.sender_id)),
    el('span', { class: 'reply-text' }, text),
  );
}

/**
 * The text and media of a message; images inline (thumbnail linking to the file), other files as chips.
 * `imageLoaded()` runs when an image has loaded, which makes the message taller.
 */
export function messageBody(message, imageLoaded) {
  const parts = [];
  const mediaUrl = safeUrl(message.media_url);
  const filename = message.media_filename || 'file';
  if (message.message_type === 'image' && mediaUrl) {
    const src = safeUrl(message.thumbnail_url) || mediaUrl;
    const img = el('img', { src, alt: filename, loading: 'lazy', class: 'thumbnail' });
    img.addEventListener('load', () => imageLoaded());
    parts.push(el('a', { href: mediaUrl, target: '_blank', rel: 'noopener noreferrer', class: 'image-link' }, img));
  } else if (message.message_type === 'video' && mediaUrl) {
    parts.push(
      el('video', { src: mediaUrl, controls: true, preload: 'metadata', class: 'player' }),
      fileChip(mediaUrl, filename, message.media_size),
    );
  } else if (message.message_type === 'audio' && mediaUrl) {
    parts.push(
      el('audio', { src: mediaUrl, controls: true, preload: 'metadata' }),
      fileChip(mediaUrl, filename, message.media_size),
    );
  } else if (mediaUrl) {
    parts.push(fileChip(mediaUrl, filename, message.media_size));
  }
  if (message.content) {
    // Mentions highlighted, and links made of the plain text between them.
    const text = mentionText(message).flatMap((part) => (typeof part === 'string' ? linkify(part) : [part]));
    parts.push(el('p', { class: 'text' }, text));
  }
  return parts;
}

function fileChip(url, filename, size) {
  return el(
    'a',
    { href: url, download: filename, class: 'file-chip', rel: 'noopener noreferrer' },
    el('span', { class: 'file-name' }, filename),
    size !== null && size !== undefined ? el('span', { class: 'file-size muted' }, ` (${fileSize(size)})`) : null,
  );
}

/**
 * Reply, Reply in thread, React, Forward (those the pane has hooks for) on every message; Pin or Unpin where allowed;
 * Edit (own text messages), Edit history (edited ones) and Delete (own, or any for an admin) too.
 */
function actionButtons(article, message, own, hooks) {
  const button = (label, handler) => el('button', { type: 'button', onclick: handler }, label);
  const editable = hooks.edit && own && message.message_type === 'text' && !message.forwarded_from_id;
  const current = () => hooks.current(message);
  const react = button('React', () =>
    openEmojiPicker(
      () => article.querySelector('.react-button')?.focus(),
      (emoji) => hooks.react(current(), emoji, true),
    ),
  );
  react.classList.add('react-button');
  const thread = hooks.openThread && button('Reply in thread', () => hooks.openThread(current()));
  thread?.classList.add('thread-button');
  const pinned = Boolean(message.pinned_at);
  return el(
    'div',
    { class: 'message-actions', role: 'group', 'aria-label': 'Message actions' },
    hooks.reply && button('Reply', () => hooks.reply(message)),
    thread,
    react,
    hooks.forward && button('Forward', () => hooks.forward(message)),
    hooks.pin && hooks.canPin() && button(pinned ? 'Unpin' : 'Pin', () => hooks.pin(current(), !pinned)),
    editable && button('Edit', () => hooks.edit(current())),
    message.is_edited && button('Edit history', () => openEditHistory(current())),
    hooks.canDelete(message) && button('Delete', () => hooks.remove(message)),
  );
}
