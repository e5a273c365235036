-- History that tells the truth during and after an outage.
--
-- alert_key: the incident's identity, derived alike by every process from its component and the
-- probe-grid slot it opened in (history.alert_key). A process that alerted directly while this
-- database was unreachable and the outbox afterwards send under the same Idempotency-Key.
-- recorded_at: when the row was written. Later than opened_at when a process replayed it from
-- memory after an outage; its "opened" message then waits briefly, so every process can first
-- mark what it already sent directly (notify_enqueue.sql).
ALTER TABLE statuspage.incidents
    ADD COLUMN alert_key text,
    ADD COLUMN recorded_at timestamptz;
-- history_incidents_read.sql asks, per incident, whether its "opened" message was delivered.
CREATE INDEX notifications_incident_idx ON statuspage.notifications (incident_id);
