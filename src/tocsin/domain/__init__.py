"""Pure domain model: entities, taxonomies, sensitivity tiers and grading. No I/O here."""
