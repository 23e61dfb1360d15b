"""The reviewer workspace: ``callqa serve`` (a FastAPI app over the store) and ``callqa users``.

Pages and a JSON API share one set of rules (qa.web.access): sessions in the
database, a CSRF token on every state-changing request, and a call outside a
user's scope answered as not found. All data access goes through
``qa.store.workspace``; nothing here imports SQLAlchemy.
"""
