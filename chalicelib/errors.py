"""The errors ``app.py`` turns into HTTP answers: light, so that importing the app stays cheap."""

from __future__ import annotations


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class Unavailable(Exception):
    """Neither DynamoDB nor SQS could take the message: it was not accepted."""


class Conflict(Exception):
    """The item is not in a state that allows the change."""
