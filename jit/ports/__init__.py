"""The ports (in the hexagonal sense) the use cases depend on; adapters implement them.

``azure``: Azure's JIT, VMs and networks (and its errors in ``azure_errors``); ``notify``: telling people;
``people``: user groups, emails and requesters' own Azure rights; ``audit``: audit-only records.
"""

from __future__ import annotations

from jit.ports.audit import AuditRecorder
from jit.ports.azure import AzureJit
from jit.ports.notify import LifecycleNotifier, Notifier
from jit.ports.people import Directory, PeopleEmails, RequesterPermissions

__all__ = [
    "AuditRecorder",
    "AzureJit",
    "Directory",
    "LifecycleNotifier",
    "Notifier",
    "PeopleEmails",
    "RequesterPermissions",
]
