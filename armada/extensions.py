"""Extension singletons, unbound until create_app calls their init_app."""

from __future__ import annotations

from flask_jwt_extended import JWTManager
from flask_migrate import Migrate
from flask_socketio import SocketIO
from flask_sqlalchemy import SQLAlchemy

from armada.api import ArmadaApi
from armada.models.base import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
jwt = JWTManager()
api = ArmadaApi()
socketio = SocketIO()
