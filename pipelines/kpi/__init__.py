"""KPIs: declarations compiled to SQL, rolled up the organisation tree, given a status, kept with history."""
