/* Internal to the morphism operators: the channel layouts they share, the operators
   (morph_ops.c) and the search for where they may act (morph_places.c). */
#ifndef NASH_MORPH_LAYOUT_H
#define NASH_MORPH_LAYOUT_H

#include "model/graph.h"

/* A node's output after channels were added: old channel c is now channel map[c] of c_new.
   Channels outside the map's image are "extra": finite values nobody may depend on, which
   every conv/dense consumer weighs with zero. map == NULL: the output is unchanged. */
typedef struct Layout {
	int c_new;
	int *map; /* [old c] */
} Layout;

void morph_layouts_free(Layout *lay, int n);

/* Ops that act on each channel separately: their output layout is their input's. */
int morph_is_channelwise(OpKind op);

/* Node i's layout lay[i] from its inputs' (laid out before it) when its own output gets extra
   channels appended (0: none). 0; 1 when the change cannot be made function-preserving (an
   add would see two different layouts, or the network's output, node n-1, would change); -1
   with err. A node none of whose inputs changed keeps c_new = c and no map. */
int morph_layout_of(const Graph *g, int i, int extra, Layout *lay, NashErr *err);

/* Union-find over parent[]: the root of i, halving the path. */
int morph_find_root(int *parent, int i);
/* parent[g->n_nodes]: the union-find of the nodes that share one channel layout (a channelwise
   node or an add with its inputs); the root of each group is its lowest node. */
void morph_layout_groups(int *parent, const Graph *g);

/* Spatial ratio for a skip from source to target: r >= 1 with h_s = r h_t and w_s = r w_t,
   or 0 when there is none. */
int morph_skip_ratio(const Node *s, const Node *t);

#endif
