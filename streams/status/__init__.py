"""The worker's status and metrics side: what it counts on the hot path (:mod:`.counters`, into
:mod:`.metrics` and :mod:`.activity`), what it reads of itself when asked (:mod:`.snapshot`),
the status report of a worker and of the group (:mod:`.report`), and the pages that serve
them (:mod:`.pages`: ``/metrics``, ``/status``, ``/status.json``)."""
