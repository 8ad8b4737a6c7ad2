"""Operating a live feature: alerts, incidents, escalation, paging, review queue, drills.

Layers, each a small module with one job:

==================  =============================================================================
``burn``            SLO burn-rate math: the SRE workbook's multiwindow pairs
``states``          an alert's state machine (ok, pending, firing, resolved), without flapping
``rules``           a spec's ``alerts:`` compiled into rules
``measure``         alert metrics over request records, scores and feedback
``feed``            recent events and lever changes of every replica, from the audit log
``lease``           one evaluator across replicas
``oncall_plan``     a spec's ``oncall:`` compiled into rotation, escalation and handoff window
``channels``        notifiers built from the spec's channels and the environment's secrets
``incidents``       incidents, timelines, the page outbox
``lifecycle``       acknowledge, resolve, complete the review (audited changes)
``postmortem``      the blameless post-incident review template
``engine``          one evaluation pass
``dispatch``        sending the outbox's pages
``links``           signed acknowledge/resolve links
``review``          the human review queue
``export``          reviewed answers appended to the eval set
``drills``          arming and disarming a drill in the gateway
``drill``           running a drill against a gateway, timing detection and mitigation
``api``             JSON answers shared by the admin API and the CLI
==================  =============================================================================

Import from the modules; this package imports nothing so that it stays cheap to import.
"""

__all__: list[str] = []
