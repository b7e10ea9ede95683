// Pins: "Pin" / "Unpin" on messages where the viewer may (group admins; either member of a direct room), and the
// "Pinned messages" control of the room header, which opens a panel listing the room's pins, newest pin first.

import { describeError, fetchAll, request } from './api.js';
import { el, uniqueId } from './dom.js';
import { messageSummary } from './format.js';
import { isAdmin, nameOf } from './store.js';

/** Whether the viewer may pin and unpin in `room` (the server checks again). */
export function canPin(room) {
  return room.room_type === 'direct' || isAdmin(room);
}

/** Pin or unpin; answers the message as the server now has it. */
export function setPinned(room, message, on) {
  return request(on ? 'PUT' : 'DELETE', `/api/chat/rooms/${room.id}/pins/${message.id}`);
}

/** A small "Pinned" tag for a pinned message's header, or null. */
export function pinnedTag(message) {
  return message.pinned_at && !message.is_deleted ? el('span', { class: 'tag pinned' }, 'Pinned') : null;
}

export class PinsPanel {
  /**
   * @param {() => object} room the open room, as it is now
   * @param {(message: object) => void} onChanged a message the viewer unpinned here, as the server answered
   */
  constructor(room, onChanged) {
    this.room = room;
    this.onChanged = onChanged;
    this.loading = 0; // a ticket: an older answer never overwrites a newer one
    const panelId = uniqueId('pins');
    this.button = el(
      'button',
      { type: 'button', 'aria-expanded': 'false', 'aria-controls': panelId, onclick: () => this.toggle() },
      'Pinned messages',
    );
    this.list = el('ul', { class: 'pins-list' });
    this.status = el('p', { class: 'muted', role: 'status' });
    this.error = el('p', { class: 'error', role: 'alert' });
    const close = el('button', { type: 'button', class: 'link-button', onclick: () => this.toggle(false) }, 'Close');
    const headingId = uniqueId('pins-heading');
    this.element = el(
      'section',
      { class: 'pins-panel', id: panelId, 'aria-labelledby': headingId, hidden: true },
      el('div', { class: 'pins-head' }, el('h3', { id: headingId }, 'Pinned messages'), close),
      this.status,
      this.list,
      this.error,
    );
  }

  get open() {
    return !this.element.hidden;
  }

  toggle(open = !this.open) {
    this.element.hidden = !open;
    this.button.setAttribute('aria-expanded', String(open));
    if (open) this.refresh();
    else this.button.focus();
  }

  /** Reload the list if it shows (after a pin, an unpin or a deletion anywhere in the room). */
  async refresh() {
    if (!this.open) return;
    const ticket = ++this.loading;
    try {
      const pins = await fetchAll(`/api/chat/rooms/${this.room().id}/pins`);
      if (ticket !== this.loading) return;
      this.error.textContent = '';
      this.status.textContent = pins.length ? '' : 'No pinned messages yet.';
      this.list.replaceChildren(...pins.map((message) => this.item(message)));
    } catch (failure) {
      if (ticket === this.loading) this.error.textContent = describeError(failure);
    }
  }

  item(message) {
    const unpin = async () => {
      try {
        this.onChanged(await setPinned(this.room(), message, false));
        await this.refresh();
      } catch (failure) {
        this.error.textContent = describeError(failure);
      }
    };
    return el(
      'li',
      {},
      el('span', { class: 'pin-sender' }, nameOf(message.sender_id)),
      el('span', { class: 'pin-text' }, messageSummary(message)),
      canPin(this.room()) && el('button', { type: 'button', onclick: unpin }, 'Unpin'),
    );
  }
}
