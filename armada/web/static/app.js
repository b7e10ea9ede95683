// Armada's web client: wires the session, the REST API, the Socket.IO connection and the views together.
//
// Data flow: REST calls load state and make changes; Socket.IO events are the fast path that keeps every
// window live; after any reconnection the client re-joins its rooms and catches up from REST, because events
// sent while it was away are not replayed.

import {
  accessToken,
  currentUser,
  describeError,
  logout,
  onSessionEnded,
  onTokenRefreshed,
  refreshAccessToken,
  request,
  restoreSession,
} from './api.js';
import { renderAuth } from './auth-view.js';
import { ChatPane } from './chat-view.js';
import { debounce, el } from './dom.js';
import { messageFeatureEvents } from './message-events.js';
import { openNewDirectDialog, openNewGroupDialog } from './new-room-dialogs.js';
import { paneActions } from './pane-actions.js';
import { roomEvents } from './room-events.js';
import { Rooms } from './rooms.js';
import { RoomList } from './rooms-view.js';
import { MessageSearch } from './search.js';
import { Realtime } from './socket.js';
import { state } from './store.js';

const root = document.getElementById('app');
const MARK_READ_DELAY_MS = 300;

let realtime = null;
let roomList = null;
let pane = null;
let chatArea = null;
let shell = null;
let banner = null;

// The live parts of the session, as they are now, for the modules that act on them.
const app = {
  get realtime() {
    return realtime;
  },
  get roomList() {
    return roomList;
  },
  get pane() {
    return pane;
  },
  showNotice: (text) => showNotice(text),
  openRoom: (roomId, target) => openRoom(roomId, target),
  markRead: () => markRead(),
};
app.rooms = new Rooms(app);
const rooms = app.rooms;
const actions = paneActions(app);

// ---- screens --------------------------------------------------------------------------------------------

function showLogin(notice = null) {
  teardown();
  renderAuth(root, () => startChat(), notice);
}

/** Stop everything that belongs to a logged-in session. */
function teardown() {
  realtime?.close();
  realtime = null;
  pane?.destroy();
  pane = null;
  state.me = null;
  state.rooms.clear();
  state.names.clear();
  state.openRoomId = null;
  rooms.reset();
  document.title = 'Armada';
}

async function startChat() {
  state.me = currentUser();
  state.names.set(state.me.id, state.me.display_name);
  renderShell();
  try {
    await rooms.load();
  } catch (failure) {
    if (accessToken()) showNotice(describeError(failure));
  }
  if (!accessToken()) return; // the session ended while loading (or logged out): the login screen shows
  realtime = new Realtime({
    getToken: accessToken,
    refreshToken: refreshAccessToken,
    onStatus: setOnline,
    onDisconnect: () => pane?.connectionLost(),
    onConnect: () => handleConnect().catch((failure) => console.warn('Catching up failed:', failure)),
    onSessionOver: (message) => showLogin(`Your session has ended (${message}). Please log in again.`),
    events: { ...messageFeatureEvents(() => pane, rooms), ...roomEvents(app) },
  });
}

function renderShell() {
  roomList = new RoomList(openRoom);
  // A live region that is always on the page (empty while online), so screen readers announce the change.
  banner = el('div', { id: 'connection-banner', class: 'connection-status', role: 'status' });
  chatArea = el('main', { class: 'chat-area' });
  const logoutButton = el('button', { type: 'button', class: 'link-button' }, 'Log out');
  logoutButton.addEventListener('click', () => {
    // Close the socket first: the server drops it on logout, and it must not try to refresh and reconnect.
    realtime?.close();
    realtime = null;
    logout().catch(() => {});
  });
  const roomCreated = (room) => rooms.created(room);
  // While a search has text, its results take the room list's place.
  const search = new MessageSearch({
    choose: (result) => openRoom(result.room_id, result.message),
    active: (searching) => {
      roomList.element.hidden = searching;
    },
  });
  const sidebar = el(
    'aside',
    { class: 'sidebar', 'aria-label': 'Chats' },
    el(
      'header',
      { class: 'sidebar-header' },
      el(
        'div',
        {},
        el('h1', { class: 'brand' }, 'Armada'),
        el('span', { class: 'me muted' }, state.me.display_name),
      ),
      logoutButton,
    ),
    el(
      'div',
      { class: 'sidebar-actions' },
      el('button', { type: 'button', onclick: () => openNewGroupDialog(roomCreated) }, 'New group'),
      el('button', { type: 'button', onclick: () => openNewDirectDialog(roomCreated) }, 'New direct message'),
    ),
    search.element,
    roomList.element,
  );
  shell = el('div', { class: 'app-shell' }, banner, sidebar, chatArea);
  root.replaceChildren(shell);
  showNotice('Choose a room, or start a new conversation.');
  roomList.render();
}

/** The chat area without an open room, showing `text`. */
function showNotice(text) {
  pane?.destroy();
  pane = null;
  state.openRoomId = null;
  shell.classList.remove('room-open'); // narrow screens show the room list again
  chatArea.replaceChildren(el('div', { class: 'empty-state' }, el('p', {}, text)));
  roomList.render();
}

function setOnline(online) {
  if (online) banner.replaceChildren();
  else if (!banner.firstChild) banner.append(el('span', { class: 'banner' }, 'You are offline. Reconnecting…'));
}

/** Open a room: at its newest messages, or at `target`, a message of it (a search result). */
async function openRoom(roomId, target = null) {
  const room = state.rooms.get(roomId);
  if (!room) return;
  if (pane && pane.room.id === roomId) {
    if (target) pane.showMessage(target).catch((failure) => pane?.showError(describeError(failure)));
    return;
  }
  pane?.destroy();
  state.openRoomId = roomId;
  pane = new ChatPane(room, actions);
  chatArea.replaceChildren(pane.element);
  shell.classList.add('room-open'); // narrow screens show the conversation alone
  rooms.render();
  pane.composer.focus();
  const opened = pane;
  try {
    // Load the history only once the socket has joined, so a message sent in between is not lost.
    await rooms.joined(roomId);
    await (target ? opened.showMessage(target) : opened.loadInitial());
    // Loaded while offline: what is sent from now until the next connection's catch-up may be missed.
    if (!realtime?.connected) opened.openGap();
    if (pane === opened) markRead();
  } catch (failure) {
    if (pane === opened) opened.showError(describeError(failure));
  }
}

// ---- read receipts --------------------------------------------------------------------------------------

/**
 * While a room is open and the page visible, everything in it up to the newest message is read. The server
 * records receipts only for others' messages not read before, so calling this again is harmless.
 */
const markRead = debounce(async () => {
  const current = pane;
  if (!current || document.visibilityState !== 'visible') return;
  const newest = current.newest();
  if (!newest || current.lastMarked === newest.id) return;
  current.lastMarked = newest.id;
  const roomId = current.room.id;
  try {
    const result = await request('POST', `/api/chat/rooms/${roomId}/read`, { body: { up_to: newest.id } });
    const held = state.rooms.get(roomId);
    if (held) held.unread_count = result.unread_count;
    rooms.render();
    // The answer has no mention count: ask for the room's when it showed mentions.
    if (held?.mention_count) await rooms.refresh(roomId);
  } catch (failure) {
    current.lastMarked = null; // try again with the next trigger
    console.warn('Marking messages read failed:', describeError(failure));
  }
}, MARK_READ_DELAY_MS);

document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') markRead();
});

// ---- reconnection ---------------------------------------------------------------------------------------

/**
 * After every (re)connection: join every room (so the list stays live), then catch up from the API on what
 * the events missed while we were not joined: the room list first, then the open room's changes. The open
 * room's catch-up starts from what it held before the gap (Timeline.connectionLost), never from a message that
 * arrived live after the re-join.
 */
async function handleConnect() {
  const reconnected = pane;
  const drops = reconnected?.connectionOpened();
  await Promise.all([...state.rooms.keys()].map((id) => rooms.join(id)));
  const before = new Set(state.rooms.keys());
  await rooms.load();
  // Rooms we were added to while away: join, then read them again so nothing falls between load and join.
  await Promise.all([...state.rooms.keys()].filter((id) => !before.has(id)).map((id) => rooms.adopt(id)));
  const open = pane;
  if (!open?.historyLoaded) return;
  const changed = await open.catchUp(open === reconnected ? drops : undefined);
  // The reloaded list may count as unread what this window read live meanwhile: mark read again, even up to the
  // same newest message.
  if (changed.length || state.rooms.get(open.room.id)?.unread_count) {
    open.lastMarked = null;
    markRead();
  }
}

// ---- start ----------------------------------------------------------------------------------------------

onSessionEnded((reason) => showLogin(reason));
onTokenRefreshed((token) => realtime?.useToken(token));

if (restoreSession()) {
  // A reload within this tab: check the saved session still works (refreshing it if needed) before using it.
  request('GET', '/api/users/me')
    .then(() => startChat())
    .catch((failure) => {
      if (accessToken()) showLogin(describeError(failure));
    });
} else {
  showLogin();
}
