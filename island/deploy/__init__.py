"""Building an island for real: the site file, the configuration rendered from it, posters, checks."""
