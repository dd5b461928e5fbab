"""The cluster engine: the same index on a Typesense cluster (see ``quicksearch.location``).

Pages are parsed and analysed by quicksearch, stored in Typesense with their analysed form
beside the display text, and ranked by quicksearch's own model over the candidates Typesense
returns. Nothing outside this package imports it unless an index location is a cluster.
"""
