// The Socket.IO connection: the access token travels only in the `auth` payload, an expired one is refreshed
// and the socket reconnects with the new one, and the app hears about every (re)connection so it can re-join
// rooms and catch up from the REST API (events are the fast path; the database is the truth).

import { io } from './vendor/socket.io.esm.min.js';

const ACK_TIMEOUT_MS = 8000;
// Codes with which the server refuses a connection (see the README's real-time section).
const SESSION_OVER = new Set(['token_revoked', 'invalid_token', 'authorization_required']);

export class Realtime {
  /**
   * @param {object} options
   * @param {() => string|null} options.getToken the current access token
   * @param {() => Promise<string>} options.refreshToken a fresh access token (rejects when the session is over)
   * @param {(online: boolean) => void} options.onStatus connection up or down (not called for a quiet token swap)
   * @param {() => void} options.onDisconnect after every lost connection, a quiet token swap included: events
   *   sent from then until the next (re)connection's catch-up are missed
   * @param {() => void} options.onConnect after every successful (re)connection
   * @param {(message: string) => void} options.onSessionOver the server refuses this login for good
   * @param {Record<string, Function>} options.events server -> client event handlers
   */
  constructor({ getToken, refreshToken, onStatus, onDisconnect, onConnect, onSessionOver, events }) {
    this.getToken = getToken;
    this.refreshToken = refreshToken;
    this.onStatus = onStatus;
    this.onDisconnect = onDisconnect;
    this.onConnect = onConnect;
    this.onSessionOver = onSessionOver;
    this.quiet = false; // true while reconnecting on purpose with a new token: no "offline" banner for that
    this.closed = false;
    this.socket = io(location.origin, { path: '/socket.io', auth: { token: getToken() } });
    for (const [name, handler] of Object.entries(events)) this.socket.on(name, handler);
    this.socket.on('connect', () => this.handleConnect());
    this.socket.on('disconnect', (reason) => this.handleDisconnect(reason));
    this.socket.on('connect_error', (error) => this.handleConnectError(error));
    this.socket.on('error', (error) => console.warn('Socket.IO error event:', error?.code, error?.message));
  }

  get connected() {
    return this.socket.connected;
  }

  handleConnect() {
    this.quiet = false;
    this.onStatus(true);
    this.onConnect();
  }

  handleDisconnect(reason) {
    if (this.closed) return;
    this.onDisconnect();
    if (!this.quiet) this.onStatus(false);
    // "io server disconnect": the server ended it (the token expired at our last event, or a logout). The
    // client does not retry that on its own; get a fresh token and connect again.
    if (reason === 'io server disconnect') this.reconnectWithFreshToken();
  }

  handleConnectError(error) {
    if (this.closed) return;
    this.quiet = false;
    this.onStatus(false);
    if (this.socket.active) return; // a transport failure: socket.io-client retries with backoff by itself
    // Refused by the server's connect handler: it says why in data.code.
    const code = error?.data?.code;
    if (code === 'token_expired') this.reconnectWithFreshToken();
    else if (SESSION_OVER.has(code)) this.onSessionOver(error.message);
    else setTimeout(() => this.reconnect(this.getToken()), 3000);
  }

  async reconnectWithFreshToken() {
    try {
      this.reconnect(await this.refreshToken());
    } catch {
      // The API module has ended the session (refresh refused) or the server is unreachable: retry later
      // unless the session is gone.
      if (this.getToken()) setTimeout(() => this.reconnectWithFreshToken(), 5000);
    }
  }

  /** (Re)connect carrying `token` in the auth payload. */
  reconnect(token) {
    if (this.closed || !token) return;
    this.socket.auth = { token };
    if (this.socket.connected) {
      this.socket.disconnect();
      this.socket.connect();
    } else if (!this.socket.active) {
      this.socket.connect();
    } // else socket.io-client is already retrying, and its next attempt sends the new auth
  }

  /**
   * A new access token was issued: reconnect with it now, quietly, rather than wait for the server to refuse
   * the old one at the next event. The app's onConnect catches up on anything sent during the swap.
   */
  useToken(token) {
    if (this.closed) return;
    this.quiet = this.socket.connected;
    this.reconnect(token);
  }

  /** Emit an event and resolve with its acknowledgement ({ok: false, ...} when offline or unanswered). */
  emit(event, payload) {
    if (!this.socket.connected) {
      return Promise.resolve({ ok: false, error: { code: 'offline', message: 'Not connected.' } });
    }
    return new Promise((resolve) => {
      this.socket.timeout(ACK_TIMEOUT_MS).emit(event, payload, (error, ack) => {
        resolve(error ? { ok: false, error: { code: 'timeout', message: 'No answer from the server.' } } : ack);
      });
    });
  }

  /** Disconnect for good (logout). */
  close() {
    this.closed = true;
    this.socket.removeAllListeners();
    this.socket.disconnect();
  }
}
