"""Chats and messages, written on the user's behalf (refused once they are deactivated)."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm.util import identity_key

from ..errors import ChatDeleted, InvalidChoice
from ..models import utcnow
from ..state import db_session, models
from .base import acting_for, audit_entry, check_text, transaction

TITLE_LENGTH = 200


def start_chat(user, *, title: str | None = None, ip: str | None = None):
    """A new conversation of ``user``; counted in their chat count at once."""
    User, Chat = models().User, models().Chat
    check_text(title, "A chat title", single_line=False)
    with transaction(user) as session:
        acting_for(session, user)
        if user.id is None:
            session.flush()
        chat = Chat(user_id=user.id, title=_title(title))
        session.add(chat)
        session.execute(
            update(User).where(User.id == user.id).values(chat_count=User.chat_count + 1)
        )
        session.flush()
        audit_entry(user, "chat.create", entity=f"chat:{chat.id}", ip=ip)
    return chat


def _owner(chat):
    """The chat's user, if the session holds them already (their changes are allowed)."""
    return db_session().identity_map.get(identity_key(models().User, chat.user_id))


def _title(text: str | None) -> str | None:
    text = " ".join((text or "").split())
    return text[:TITLE_LENGTH] or None


def add_message(chat, role: str, content: str):
    """Append a message; the user's first message titles an untitled chat."""
    if role not in ("user", "assistant"):
        raise InvalidChoice("role must be 'user' or 'assistant'")
    check_text(content, "A message", single_line=False)
    M = models()
    with transaction(_owner(chat)) as session:
        acting_for(session, session.get(M.User, chat.user_id))
        session.refresh(chat)  # as of the lock: not deleted, its title not erased since
        if chat.deleted_at is not None:
            raise ChatDeleted("This chat was deleted.")
        message = M.Message(chat_id=chat.id, role=role, content=content)
        session.add(message)
        session.execute(
            update(M.Chat)
            .where(M.Chat.id == chat.id)
            .values(message_count=M.Chat.message_count + 1)
        )
        if role == "user":
            if chat.title is None:
                chat.title = _title(content)
            session.execute(
                update(M.User).where(M.User.id == chat.user_id).values(last_activity_at=utcnow())
            )
    return message


def delete_chat(chat, *, ip: str | None = None) -> bool:
    """Delete a chat as its user does: title and every message's text go, the row stays."""
    M = models()
    with transaction(_owner(chat)) as session:
        user = acting_for(session, session.get(M.User, chat.user_id))
        session.refresh(chat)
        if chat.deleted_at is not None:
            return False
        chat.deleted_at = utcnow()
        chat.title = None
        session.execute(update(M.Message).where(M.Message.chat_id == chat.id).values(content=None))
        audit_entry(user, "chat.delete", entity=f"chat:{chat.id}", ip=ip)
    return True
