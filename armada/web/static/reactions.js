// Reactions: the bar of reaction buttons under a message ("👍 2", pressed when one is yours), the "React" emoji
// picker, and the bookkeeping that keeps counts live from reaction_added / reaction_removed events.
//
// `me` (whether a reaction is yours) comes only in REST answers; broadcasts leave it out, so it is kept from the
// copy we hold and moved by events that carry our own user id.

import { describeError, request } from './api.js';
import { el } from './dom.js';
import { state } from './store.js';

// A small fixed set: the picker is for the common case; the API accepts any single emoji.
export const PICKER_EMOJI = ['👍', '❤️', '😂', '🎉', '😮', '😢', '🙏', '👀'];

/** An incoming copy of a message whose reactions lack `me` (a broadcast) keeps ours from the copy held. */
export function keepMine(held, incoming) {
  if (!held || !Array.isArray(incoming.reactions) || incoming.reactions.every((r) => r.me !== undefined)) {
    return incoming;
  }
  const mine = new Map((held.reactions || []).map((r) => [r.emoji, Boolean(r.me)]));
  return { ...incoming, reactions: incoming.reactions.map((r) => ({ ...r, me: r.me ?? mine.get(r.emoji) ?? false })) };
}

/** The message with a reaction_added / reaction_removed event applied (its count is the new total). */
export function applyReactionEvent(message, { emoji, user_id: userId, count }, added) {
  const reactions = (message.reactions || []).map((r) => ({ ...r }));
  let entry = reactions.find((r) => r.emoji === emoji);
  if (!entry && count > 0) {
    entry = { emoji, count, me: false };
    reactions.push(entry); // a new emoji goes last: the order of first use
  }
  if (entry) {
    entry.count = count;
    if (userId === state.me.id) entry.me = added;
  }
  return { ...message, reactions: reactions.filter((r) => r.count > 0) };
}

/** Add (PUT) or remove (DELETE) one of our reactions; answers the message's reactions as the server has them. */
export async function setReaction(message, emoji, on) {
  const path = `/api/chat/messages/${message.id}/reactions/${encodeURIComponent(emoji)}`;
  const answer = await request(on ? 'PUT' : 'DELETE', path);
  return answer.reactions;
}

/**
 * The reaction bar of a message, or null without reactions: one toggle button per emoji whose accessible name is
 * the emoji and its count. `onToggle(emoji, on)` adds or removes ours.
 */
export function reactionBar(message, onToggle) {
  const reactions = message.reactions || [];
  if (!reactions.length || message.is_deleted) return null;
  return el(
    'div',
    { class: 'reactions', role: 'group', 'aria-label': 'Reactions' },
    reactions.map((r) =>
      el(
        'button',
        {
          type: 'button',
          class: 'reaction',
          'aria-pressed': r.me ? 'true' : 'false',
          onclick: () => onToggle(r.emoji, !r.me),
        },
        el('span', { class: 'reaction-emoji' }, r.emoji),
        ' ',
        el('span', { class: 'reaction-count' }, String(r.count)),
      ),
    ),
  );
}

/**
 * The emoji picker (a modal dialog named "Pick a reaction"): arrow keys move between the emoji, Enter or a click
 * picks one, Escape closes; then `restoreFocus()` puts focus back (on the message's "React" button, which a
 * re-render may have replaced meanwhile).
 */
export function openEmojiPicker(restoreFocus, onPick) {
  const dialog = el('dialog', { class: 'dialog emoji-picker', 'aria-label': 'Pick a reaction' });
  const error = el('p', { class: 'error', role: 'alert' });
  const buttons = PICKER_EMOJI.map((emoji) =>
    el('button', { type: 'button', class: 'emoji-choice', 'aria-label': `React with ${emoji}`, title: emoji }, emoji),
  );
  buttons.forEach((button, index) => {
    button.addEventListener('click', async () => {
      try {
        await onPick(PICKER_EMOJI[index]);
        dialog.close();
      } catch (failure) {
        error.textContent = describeError(failure);
      }
    });
    button.addEventListener('keydown', (event) => {
      const step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[event.key];
      if (!step) return;
      event.preventDefault();
      buttons[(index + step + buttons.length) % buttons.length].focus();
    });
  });
  const cancel = el('button', { type: 'button', class: 'link-button', onclick: () => dialog.close() }, 'Cancel');
  dialog.append(el('div', { class: 'emoji-grid' }, buttons), error, el('div', { class: 'actions' }, cancel));
  dialog.addEventListener('close', () => {
    dialog.remove();
    restoreFocus();
  });
  document.body.append(dialog);
  dialog.showModal(); // Escape closes a modal dialog (the `cancel` event, then `close`)
  buttons[0].focus();
  return dialog;
}
