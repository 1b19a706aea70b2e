"""Geography: PRIO-GRID cells, country outlines, distances and point-in-polygon."""
