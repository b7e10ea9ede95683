"""Real-time delivery: Socket.IO handlers (handlers.py), the one events emitter (events.py), and the server
binding (server.py). Kept import-free so services can import `armada.realtime.events` without the handlers."""
