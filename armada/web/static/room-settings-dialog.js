// "Room settings", for a group's admins: rename, describe, remove members (after a confirmation), add people.

import { request } from './api.js';
import { confirmAction } from './confirm.js';
import { openDialog, showError } from './dialog.js';
import { el, uniqueId } from './dom.js';
import { isAdmin, learnNames, roomTitle, state } from './store.js';
import { userSearch } from './user-search.js';

/**
 * Room settings for a group's admins: rename, description, members (remove), and add people.
 * `onChanged(room)` gets the room as the server answers after each change.
 */
export function openRoomSettingsDialog(room, onChanged) {
  openDialog('Room settings', ({ close, error }) => {
    let current = room;
    const nameId = uniqueId('room-name');
    const descriptionId = uniqueId('room-description');
    const name = el('input', { id: nameId, type: 'text', maxlength: 100, value: room.name || '' });
    const description = el('textarea', { id: descriptionId, rows: 3, maxlength: 2000 });
    description.value = room.description || '';
    const save = el('button', { type: 'submit', class: 'primary' }, 'Save');
    const saved = el('p', { class: 'muted', role: 'status' });

    const details = el(
      'form',
      { novalidate: true, class: 'settings-details' },
      el('div', { class: 'field' }, el('label', { for: nameId }, 'Room name'), name),
      el('div', { class: 'field' }, el('label', { for: descriptionId }, 'Description'), description),
      el('div', { class: 'actions' }, saved, save),
    );
    details.addEventListener('submit', async (event) => {
      event.preventDefault();
      save.disabled = true;
      saved.textContent = '';
      try {
        const text = description.value.trim();
        const body = { name: name.value.trim(), description: text || null };
        update(await request('PATCH', `/api/chat/rooms/${room.id}`, { body }));
        saved.textContent = 'Saved.';
        error.textContent = '';
      } catch (failure) {
        showError(error, failure);
      } finally {
        save.disabled = false;
      }
    });

    const members = el('ul', { class: 'member-list', 'aria-label': 'Members' });
    const renderMembers = () => {
      members.replaceChildren(
        ...current.members.map((member) => {
          const isMe = member.user_id === state.me.id;
          return el(
            'li',
            {},
            el('span', {}, member.display_name, isMe ? ' (you)' : ''),
            member.is_admin && el('span', { class: 'tag' }, 'admin'),
            !isMe &&
              el(
                'button',
                { type: 'button', 'aria-label': `Remove ${member.display_name}`, onclick: () => removeMember(member) },
                'Remove',
              ),
          );
        }),
      );
    };
    const removeMember = async (member) => {
      const confirmed = await confirmAction({
        title: `Remove ${member.display_name} from ${roomTitle(current)}?`,
        detail: 'They will no longer see the room or its messages, unless an admin adds them again.',
        confirmLabel: `Remove ${member.display_name}`,
      });
      if (!confirmed) return;
      try {
        await request('DELETE', `/api/chat/rooms/${room.id}/members/${member.user_id}`);
        update(await request('GET', `/api/chat/rooms/${room.id}`));
      } catch (failure) {
        showError(error, failure);
      }
    };

    const results = el('ul', { class: 'pick-list', 'aria-label': 'People to add' });
    let lastResults = []; // the latest search answer, redrawn without the new member after an add
    const renderResults = (users) => {
      const memberIds = new Set(current.members.map((m) => m.user_id));
      const candidates = users.filter((u) => !memberIds.has(u.id));
      results.replaceChildren(
        ...candidates.map((user) =>
          el(
            'li',
            {},
            el('button', { type: 'button', class: 'pick', onclick: () => addMember(user) }, 'Add ', user.display_name),
          ),
        ),
      );
      lastResults = users;
    };
    const addMember = async (user) => {
      try {
        update(await request('POST', `/api/chat/rooms/${room.id}/members/${user.id}`, { body: {} }));
        error.textContent = '';
      } catch (failure) {
        showError(error, failure);
      }
    };

    const update = (fresh) => {
      current = fresh;
      learnNames(fresh);
      renderMembers();
      renderResults(lastResults);
      onChanged(fresh);
      // Someone who removed their own admin rights (or lost them) has nothing left to do here.
      if (!isAdmin(fresh)) close();
    };

    renderMembers();
    return el(
      'div',
      { class: 'settings' },
      details,
      el('h3', {}, 'Members'),
      members,
      el('h3', {}, 'Add people'),
      userSearch(renderResults, error),
      results,
      el('div', { class: 'actions' }, el('button', { type: 'button', onclick: close }, 'Close')),
    );
  });
}
