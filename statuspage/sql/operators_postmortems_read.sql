SELECT incident_id, message, at FROM statuspage.postmortems WHERE at > %(since)s;
