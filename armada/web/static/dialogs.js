// Modal dialogs: new group, new direct message, forward, room settings. Each dialog is built when opened and
// removed when closed, so its fields (e.g. "Search users") exist on the page only while it is open.

import { describeError, request } from './api.js';
import { confirmAction } from './confirm.js';
import { debounce, el, randomId, reconcile, uniqueId } from './dom.js';
import { isAdmin, learnNames, roomTitle, sortedRooms, state } from './store.js';

const SEARCH_DELAY_MS = 200;
const MIN_SEARCH_CHARS = 2; // the server's minimum (GET /api/users?q=)

/**
 * Open a modal <dialog> titled `title`; `build({close, error})` returns its content. `error` is a role=alert
 * paragraph for inline API errors. Returns {dialog, close}.
 */
export function openDialog(title, build) {
  const titleId = uniqueId('dialog-title');
  const error = el('p', { class: 'error', role: 'alert' });
  const dialog = el('dialog', { 'aria-labelledby': titleId, class: 'dialog' });
  const close = () => {
    if (dialog.open) dialog.close();
  };
  // The page behind a modal dialog is inert. Make its composer read-only too, so nothing (a script, a test
  // robot) can type into a conversation that is about to be replaced by the room this dialog opens.
  const composers = [...document.querySelectorAll('.composer textarea')];
  for (const textarea of composers) textarea.readOnly = true;
  dialog.addEventListener('close', () => {
    for (const textarea of composers) textarea.readOnly = false;
    dialog.remove();
  });
  dialog.append(el('h2', { id: titleId }, title), build({ close, error }), error);
  document.body.append(dialog);
  dialog.showModal();
  return { dialog, close };
}

/** Show a failure in a dialog's alert line. */
function showError(error, failure) {
  error.textContent = describeError(failure);
}

/**
 * A "Search users" field whose results (other users only) are drawn by `renderResults(users, typed)`; `typed` is
 * false while the search is too short to run. Searches as you type (a prefix of a word of a name, or a whole
 * email: at least MIN_SEARCH_CHARS); a slow answer to an older query never overwrites a newer one.
 */
function userSearch(renderResults, error) {
  const id = uniqueId('search-users');
  const input = el('input', {
    id,
    type: 'search',
    autocomplete: 'off',
    placeholder: 'Name or email address',
    'aria-describedby': `${id}-hint`,
  });
  const hint = el(
    'p',
    { class: 'hint', id: `${id}-hint` },
    `Type at least ${MIN_SEARCH_CHARS} characters of a name, or a whole email address.`,
  );
  let latest = 0;
  const run = async () => {
    const ticket = ++latest;
    const q = input.value.trim();
    if (q.length < MIN_SEARCH_CHARS) {
      error.textContent = '';
      renderResults([], false);
      return;
    }
    try {
      const page = await request('GET', '/api/users', { query: { q, limit: 20 } });
      if (ticket !== latest) return;
      for (const user of page.items) state.names.set(user.id, user.display_name);
      error.textContent = '';
      renderResults(
        page.items.filter((user) => user.id !== state.me.id),
        true,
      );
    } catch (failure) {
      if (ticket === latest) showError(error, failure);
    }
  };
  input.addEventListener('input', debounce(run, SEARCH_DELAY_MS));
  run();
  return el('div', { class: 'field' }, el('label', { for: id }, 'Search users'), input, hint);
}

/**
 * Show `users` in `list`, one item each made by `makeItem(user)` and kept by user id, so a new search answer
 * leaves the items still listed untouched (their state, focus, and anything a click is about to reach).
 */
function renderPeople(list, items, users, makeItem, typed) {
  const nodes = users.map((user) => {
    if (!items.has(user.id)) items.set(user.id, makeItem(user));
    return items.get(user.id);
  });
  if (!nodes.length && typed) nodes.push(el('li', { class: 'muted' }, 'No one found.'));
  reconcile(list, nodes);
}

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

/** The forward dialog: one button per room; choosing one forwards the message there. */
export function openForwardDialog(message) {
  openDialog('Forward message', ({ close, error }) => {
    const list = el('ul', { class: 'pick-list', 'aria-label': 'Rooms' });
    for (const room of sortedRooms()) {
      const button = el('button', { type: 'button', class: 'pick' }, roomTitle(room));
      button.addEventListener('click', async () => {
        for (const b of list.querySelectorAll('button')) b.disabled = true;
        try {
          // A forward copies the original's content and media on the server; it carries neither itself.
          await request('POST', '/api/chat/messages', {
            body: { room_id: room.id, forwarded_from_id: message.id, client_id: randomId() },
          });
          close();
        } catch (failure) {
          showError(error, failure);
          for (const b of list.querySelectorAll('button')) b.disabled = false;
        }
      });
      list.append(el('li', {}, button));
    }
    const cancel = el('button', { type: 'button', onclick: close }, 'Cancel');
    return el('div', {}, list, el('div', { class: 'actions' }, cancel));
  });
}

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
