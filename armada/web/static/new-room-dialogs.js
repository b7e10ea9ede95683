// The dialogs that start a conversation: "New group" (a name and people picked with checkboxes) and "New direct
// message" (one person). Both create the room and hand it over (for a direct room that exists already, the server
// answers that one).

import { request } from './api.js';
import { openDialog, showError } from './dialog.js';
import { el, uniqueId } from './dom.js';
import { renderPeople, userSearch } from './user-search.js';

/** The new group dialog: a name, people picked with checkboxes, and "Create". */
export function openNewGroupDialog(onCreated) {
  openDialog('New group', ({ close, error }) => {
    const selected = new Map(); // user id -> user, kept across searches
    const items = new Map();
    const nameId = uniqueId('group-name');
    const name = el('input', { id: nameId, type: 'text', maxlength: 100, required: true });
    const list = el('ul', { class: 'pick-list', 'aria-label': 'People' });

    const makeItem = (user) => {
      const box = el('input', { type: 'checkbox', value: user.id });
      box.addEventListener('change', () => {
        if (box.checked) selected.set(user.id, user);
        else selected.delete(user.id);
      });
      return el('li', {}, el('label', { class: 'pick' }, box, ' ', user.display_name));
    };
    // Picked people stay listed (and can be unticked) even when the current search does not match them.
    const renderResults = (users, typed) =>
      renderPeople(list, items, [...selected.values(), ...users.filter((u) => !selected.has(u.id))], makeItem, typed);

    const create = el('button', { type: 'submit', class: 'primary' }, 'Create');
    const form = el(
      'form',
      { novalidate: true },
      el('div', { class: 'field' }, el('label', { for: nameId }, 'Group name'), name),
      userSearch(renderResults, error),
      list,
      el('div', { class: 'actions' }, el('button', { type: 'button', onclick: close }, 'Cancel'), create),
    );
    createRoomOnSubmit(form, create, { close, error, onCreated }, () => ({
      room_type: 'group',
      name: name.value.trim(),
      member_ids: [...selected.keys()],
    }));
    return form;
  });
}

/**
 * Submitting a room dialog: POST the body `makeBody` gives (nothing when it gives null), then close the dialog
 * and hand over the room; a failure stays in the dialog, with "Create" enabled again for another try.
 */
function createRoomOnSubmit(form, create, { close, error, onCreated }, makeBody) {
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const body = makeBody();
    if (!body) return;
    create.disabled = true;
    try {
      const room = await request('POST', '/api/chat/rooms', { body });
      close();
      onCreated(room);
    } catch (failure) {
      showError(error, failure);
      create.disabled = false;
    }
  });
}

/** The new direct message dialog: pick one person (a pressed button), then "Create". */
export function openNewDirectDialog(onCreated) {
  openDialog('New direct message', ({ close, error }) => {
    let chosen = null;
    const items = new Map();
    const list = el('ul', { class: 'pick-list', 'aria-label': 'People' });
    const create = el('button', { type: 'submit', class: 'primary', disabled: true }, 'Create');

    const makeItem = (user) => {
      const button = el('button', { type: 'button', class: 'pick', 'aria-pressed': 'false' }, user.display_name);
      button.addEventListener('click', () => {
        chosen = user;
        for (const other of list.querySelectorAll('button[aria-pressed]')) other.setAttribute('aria-pressed', 'false');
        button.setAttribute('aria-pressed', 'true');
        create.disabled = false;
      });
      // Double-click is a shortcut for pick-and-create.
      button.addEventListener('dblclick', () => form.requestSubmit(create));
      return el('li', {}, button);
    };
    // The chosen person stays listed (pressed) whatever the search shows.
    const renderResults = (users, typed) =>
      renderPeople(
        list,
        items,
        chosen ? [chosen, ...users.filter((u) => u.id !== chosen.id)] : users,
        makeItem,
        typed,
      );

    const form = el(
      'form',
      { novalidate: true },
      userSearch(renderResults, error),
      list,
      el('div', { class: 'actions' }, el('button', { type: 'button', onclick: close }, 'Cancel'), create),
    );
    createRoomOnSubmit(form, create, { close, error, onCreated }, () =>
      chosen ? { room_type: 'direct', member_ids: [chosen.id] } : null,
    );
    return form;
  });
}
