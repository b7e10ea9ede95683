// The room list: newest activity first, each room a button named by its title, with an unread badge and a
// preview of the last message as its description.

import { el, reconcile, uniqueId } from './dom.js';
import { messageSummary, shortTimeLabel } from './format.js';
import { nameOf, roomTitle, sortedRooms, state } from './store.js';

export class RoomList {
  /** `onOpen(roomId)` runs when a room is chosen. */
  constructor(onOpen) {
    this.onOpen = onOpen;
    this.items = new Map(); // room id -> {li, button, name, preview, time, badge, badgeText}
    this.list = el('ul', { class: 'room-list', 'aria-label': 'Rooms' });
    this.empty = el(
      'p',
      { class: 'muted room-list-empty' },
      'No rooms yet. Start one with “New group” or “New direct message”.',
    );
    this.element = el('div', { class: 'room-list-wrap' }, this.list, this.empty);
  }

  /** Bring the list up to date with the state (rooms added, removed, reordered or changed). */
  render() {
    const rooms = sortedRooms();
    for (const id of this.items.keys()) if (!state.rooms.has(id)) this.items.delete(id);
    reconcile(this.list, rooms.map((room) => this.update(room)));
    this.empty.hidden = rooms.length > 0;
  }

  /** The list item of a room, created on first sight, its texts refreshed. */
  update(room) {
    let item = this.items.get(room.id);
    if (!item) {
      item = this.create(room.id);
      this.items.set(room.id, item);
    }
    const title = roomTitle(room);
    item.avatar.textContent = (title.trim()[0] || '#').toUpperCase();
    item.name.textContent = title;
    item.preview.textContent = this.preview(room);
    const last = room.last_message?.created_at || room.created_at;
    item.time.textContent = last ? shortTimeLabel(new Date(last)) : '';
    if (last) item.time.setAttribute('datetime', last);
    const unread = room.unread_count || 0;
    item.badge.hidden = unread === 0;
    item.badge.textContent = unread > 99 ? '99+' : String(unread);
    const mentions = room.mention_count || 0;
    item.mentionBadge.hidden = mentions === 0;
    item.mentionBadge.textContent = mentions > 99 ? '@99+' : `@${mentions}`;
    const mentionText = mentions ? `, ${mentions} mention${mentions === 1 ? '' : 's'}` : '';
    item.badgeText.textContent = `${unread ? `, ${unread} unread` : ''}${mentionText}`;
    item.button.classList.toggle('has-unread', unread > 0);
    if (room.id === state.openRoomId) item.button.setAttribute('aria-current', 'true');
    else item.button.removeAttribute('aria-current');
    return item.li;
  }

  create(roomId) {
    const previewId = uniqueId('room-preview');
    const unreadId = uniqueId('room-unread');
    const avatar = el('span', { class: 'avatar', 'aria-hidden': 'true' });
    const name = el('span', { class: 'room-name' });
    const preview = el('span', { class: 'room-preview', id: previewId, 'aria-hidden': 'true' });
    const time = el('time', { class: 'room-time', 'aria-hidden': 'true' });
    const badge = el('span', { class: 'unread-badge', 'aria-hidden': 'true' });
    const mentionBadge = el('span', { class: 'mention-badge', 'aria-hidden': 'true' });
    const badgeText = el('span', { class: 'visually-hidden', id: unreadId, 'aria-hidden': 'true' });
    // The accessible name is the room's title alone, from the one part of the content not hidden from assistive
    // technology; the preview and unread count describe it (aria-describedby reads hidden elements too). An
    // aria-label instead would leave visible text out of the name (WCAG 2.5.3, axe's label-content-name-mismatch).
    const button = el(
      'button',
      { type: 'button', class: 'room-item', 'data-room-id': roomId, 'aria-describedby': `${previewId} ${unreadId}` },
      avatar,
      el('span', { class: 'room-main' }, name, preview),
      el('span', { class: 'room-meta' }, time, mentionBadge, badge, badgeText),
    );
    button.addEventListener('click', () => this.onOpen(roomId));
    return { li: el('li', {}, button), button, avatar, name, preview, time, badge, mentionBadge, badgeText };
  }

  /** Move keyboard focus to a room's entry (back from its conversation on a narrow screen). */
  focusRoom(roomId) {
    this.items.get(roomId)?.button.focus();
  }

  /** "Bob: see you" in groups, "You: …" for your own, plain text in direct rooms. */
  preview(room) {
    const message = room.last_message;
    if (!message) return room.room_type === 'group' ? room.description || 'No messages yet' : 'No messages yet';
    const summary = messageSummary(message);
    if (message.sender_id === state.me.id) return `You: ${summary}`;
    return room.room_type === 'group' ? `${nameOf(message.sender_id)}: ${summary}` : summary;
  }
}
