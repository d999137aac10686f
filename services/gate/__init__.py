"""The island gate: in island mode, phones' connections to the outside are refused at once."""
