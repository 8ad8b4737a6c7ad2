"""The second training set of the learned injection scorer, written after reading the v3 results.

``python -m tests.guardrails.trainset`` rebuilds ``tests/guardrails/data/injection_train_v2.jsonl``
bit for bit: hand-written rows and rows expanded from hand-written templates and word lists, with a
fixed seed per template family (so adding a family never reshuffles another). Each row says where it
came from (``source``: ``hand`` or ``template:<family>``) and its language (``lang``).

The modules hold words, not logic: ``_indirect`` (documents and tool results holding notes addressed
to an automated reader, and the same containers holding notes addressed to people), ``_direct``
(override, extraction, persona, authority and social-pressure attacks), ``_benign`` (questions about
prompts, look-alike words, users revising their own requests, role-play, tickets, security teaching),
``_lang_*`` (attacks and look-alikes in other languages), and ``_build`` (expansion and writing).
"""
