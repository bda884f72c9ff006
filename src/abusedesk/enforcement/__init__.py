"""From case to enforcement: playbooks, actions, decision records, adapters.

Entry points for the console, the portal and the API (every one takes ``actor``: a
person's login, or a system name such as ``playbook``; two-person rules count people):

- ``flows.decide(ctx, session, case, kind, actor=, reason=, dry_run=)``: an analyst's action
- ``service.approve(ctx, session, action_id, actor=)`` / ``service.reject(...)``
- ``service.lift(ctx, session, action_id, actor=, reason=)``: undo through a ``restore`` action
- ``flows.confirm_case(...)``: phishing/malware confirmed by an analyst
- ``flows.customer_responded(..., remediated=)`` and ``flows.lift_containment(...)``
- ``flows.close_case(...)``: closes and tells the reporters the outcome
- ``special.submit_counter_notice(...)``, ``special.report_suit(...)``: the DMCA path
- ``playbooks.is_legal_only(policy, case)``: the legal-role-only flag (CSAM)
- ``statements.export_statements(session)``: DSA Transparency Database JSON

Refusals raise subclasses of ``service.EnforcementError`` with a message for the analyst.
"""
