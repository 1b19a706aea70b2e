"""One router per resource, all under ``/api/v1`` and all using ``UnitOfWorkRoute``."""
