"""Azure Function (Python v2 programming model): AKS audit logs from diagnostic settings via Event Hubs."""

from __future__ import annotations
