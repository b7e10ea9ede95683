// Drives the official socket.io-client against a real Armada server for tests/system/test_js_client.py.
//
// Config: one JSON object as argv[2] (or on stdin when there is no argument):
//   url          server base URL (required)
//   token        access token, sent as auth: {token} exactly like the seed's example
//   room_id      room to join (join_room with an ack) once connected
//   wait_upgrade join only after the transport has upgraded to websocket, so the room's events travel on it
//   upgrade_delay_ms  hold the websocket probe this long before opening it, so that the session stays on
//                long-polling (and events flow on it) until the upgrade, which then happens mid-stream
//   typing       {is_typing}: emit typing (with an ack) to room_id once joined
//   pipelined    like the seed's example: emit join_room and typing at once, right after io(), not waiting
//   commands     read stdin once connected (and joined): each line {event, data} is emitted with an ack, in order
//   count        exit after this many server events (default: never)
//   until        exit once this server event arrives (default: never)
//   timeout_ms   exit after this long whatever happens (default 15000)
//
// Output: one JSON line per thing that happens, {"event": name, "data": ...}. Server events keep their names;
// the client's own are `open` {transport} (the engine's first), `connect` {id, transport},
// `connect_error` {message, data}, `upgrade` {transport}, `upgrade_error` {message}, `disconnect` {reason},
// `ack:<event>` (the server's acknowledgement), and a last `exit` {reason}.
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { io } from 'socket.io-client';

const config = JSON.parse(process.argv[2] ?? readFileSync(0, 'utf8'));
const timeoutMs = config.timeout_ms ?? 15000;

function print(event, data) {
  process.stdout.write(JSON.stringify({ event, data: data ?? null }) + '\n');
}

let socket;
function finish(reason, code = 0) {
  print('exit', { reason });
  socket?.close();
  // Let stdout drain before leaving; a pipe write may still be pending.
  process.stdout.write('', () => process.exit(code));
}

setTimeout(() => finish('timeout'), timeoutMs).unref();

socket = io(config.url, {
  path: '/socket.io',
  auth: { token: config.token },
  reconnection: false, // a refused or dropped connection is reported, not retried behind the test's back
});

if (config.upgrade_delay_ms) {
  // The engine exists once io() returns; the upgrade's websocket is made by createTransport when probing.
  const engine = socket.io.engine;
  const createTransport = engine.createTransport.bind(engine);
  engine.createTransport = (name) => {
    const transport = createTransport(name);
    if (name === 'websocket') {
      const doOpen = transport.doOpen.bind(transport);
      transport.doOpen = () => setTimeout(doOpen, config.upgrade_delay_ms);
    }
    return transport;
  };
}

// The engine's first transport; with the default transports it is long-polling, upgraded to websocket later.
const engineReady = new Promise((resolve) =>
  socket.io.on('open', () => {
    print('open', { transport: socket.io.engine.transport.name });
    resolve();
  }),
);
const upgraded = engineReady.then(
  () =>
    new Promise((resolve) => {
      const engine = socket.io.engine;
      if (engine.transport.name === 'websocket') return resolve();
      engine.on('upgrade', () => {
        print('upgrade', { transport: socket.io.engine.transport.name });
        resolve();
      });
      engine.on('upgradeError', (err) => print('upgrade_error', { message: String(err?.message ?? err) }));
    }),
);

let received = 0;
socket.onAny((event, ...args) => {
  print(event, args.length > 1 ? args : args[0]);
  received += 1;
  if (event === config.until || (config.count && received >= config.count)) finish(`got ${event}`);
});

socket.on('connect_error', (err) => {
  print('connect_error', { message: err.message, data: err.data ?? null });
  finish('connect_error');
});

socket.on('disconnect', (reason) => print('disconnect', { reason }));

async function printAck(event, pending) {
  try {
    print(`ack:${event}`, await pending);
  } catch (err) {
    finish(`no acknowledgement to ${event}: ${err.message}`, 1);
  }
}

function emitWithAck(event, payload) {
  return socket.timeout(timeoutMs).emitWithAck(event, payload);
}

const typingPayload = () => ({ room_id: config.room_id, is_typing: config.typing.is_typing ?? true });

if (config.pipelined) {
  // The client buffers these until it is connected, then sends them in order without waiting in between.
  printAck('join_room', emitWithAck('join_room', { room_id: config.room_id }));
  if (config.typing) printAck('typing', emitWithAck('typing', typingPayload()));
}

socket.on('connect', async () => {
  print('connect', { id: socket.id, transport: socket.io.engine.transport.name });
  if (!config.room_id || config.pipelined) return;
  if (config.wait_upgrade) await upgraded;
  await printAck('join_room', emitWithAck('join_room', { room_id: config.room_id }));
  if (config.typing) await printAck('typing', emitWithAck('typing', typingPayload()));
});

// Commands from the test, one JSON line each, emitted in order, each once the one before it was acknowledged.
async function runCommands() {
  for await (const line of createInterface({ input: process.stdin })) {
    if (!line.trim()) continue;
    const { event, data } = JSON.parse(line);
    await printAck(event, emitWithAck(event, data));
  }
}

if (config.commands) {
  socket.once('connect', async () => {
    if (config.room_id && !config.pipelined) {
      await new Promise((resolve) => socket.once('room_joined', resolve));
    }
    print('ready', null);
    await runCommands();
  });
}
