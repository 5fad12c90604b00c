"""The destination catalog: one module per destination, each exporting `DESTINATION`."""
