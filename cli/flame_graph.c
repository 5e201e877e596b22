/* flame_graph.c: see flame_graph.h. The stacks are merged into a tree (outermost frame at
 * the root, frame 0 left out, as in the folded format), laid out bottom-up: no script, no
 * external resource, so it opens in any browser without a network. */
#include "flame_graph.h"

#include "xml_text.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define WIDTH 1200.0
#define ROW_HEIGHT 16u
#define TOP_MARGIN 36u
#define CHARACTER_WIDTH 7.0
/* Frames drawn per stack at most, outermost first: the tree is walked recursively. */
#define MAX_DRAWN_DEPTH 512

struct node {
    const char *name;
    const struct node *parent;
    uint64_t bytes;
    uint64_t blocks;
    struct node *children; /* first child */
    struct node *sibling;
};

/* Every node but the root, found by its parent and name: a scan of the siblings made a
 * trace of 100,000 stacks under one caller take minutes. Open addressing, at most half full. */
static struct {
    struct node **slots;
    size_t capacity, count;
} nodes;

static size_t slot_of(const struct node *parent, const char *name)
{
    uint64_t hash = (uint64_t)(uintptr_t)parent * 0x9e3779b97f4a7c15ull;
    for (const unsigned char *c = (const unsigned char *)name; *c; c++)
        hash = (hash ^ *c) * 0x100000001b3ull;
    size_t slot = (size_t)(hash ^ hash >> 29) & (nodes.capacity - 1);
    while (nodes.slots[slot] != NULL
           && (nodes.slots[slot]->parent != parent || strcmp(nodes.slots[slot]->name, name) != 0))
        slot = (slot + 1) & (nodes.capacity - 1);
    return slot;
}

static void nodes_grow(void)
{
    struct node **old = nodes.slots;
    size_t old_capacity = nodes.capacity;
    nodes.capacity = old_capacity ? old_capacity * 2 : 1024;
    nodes.slots = checked_calloc(nodes.capacity, sizeof(struct node *));
    for (size_t i = 0; i < old_capacity; i++)
        if (old[i] != NULL)
            nodes.slots[slot_of(old[i]->parent, old[i]->name)] = old[i];
    free(old);
}

static struct node *child_named(struct node *parent, const char *name)
{
    if ((nodes.count + 1) * 2 > nodes.capacity)
        nodes_grow();
    size_t slot = slot_of(parent, name);
    if (nodes.slots[slot] != NULL)
        return nodes.slots[slot];
    struct node *child = checked_calloc(1, sizeof *child);
    child->name = name;
    child->parent = parent;
    child->sibling = parent->children;
    parent->children = child;
    nodes.slots[slot] = child;
    nodes.count++;
    return child;
}

static void free_tree(struct node *node)
{
    for (struct node *child = node->children, *next; child; child = next) {
        next = child->sibling;
        free_tree(child);
    }
    free(node);
}

/* A warm colour that depends on the name only, so a function keeps its colour. */
static void colour_of(const char *name, unsigned *red, unsigned *green, unsigned *blue)
{
    uint32_t hash = 2166136261u;
    for (const unsigned char *c = (const unsigned char *)name; *c; c++)
        hash = (hash ^ *c) * 16777619u;
    *red = 200 + hash % 55;
    *green = 80 + (hash >> 8) % 120;
    *blue = 40 + (hash >> 16) % 40;
}

static unsigned depth_of(const struct node *node)
{
    unsigned deepest = 0;
    for (const struct node *child = node->children; child; child = child->sibling) {
        unsigned depth = depth_of(child);
        if (depth > deepest)
            deepest = depth;
    }
    return deepest + 1;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp((*(const struct node *const *)a)->name, (*(const struct node *const *)b)->name);
}

static void draw(FILE *out, const struct node *node, double x, unsigned level, double scale,
                 unsigned height, uint64_t total)
{
    double width = (double)node->bytes * scale;
    if (width < 0.1)
        return;
    unsigned y = height - (level + 1) * ROW_HEIGHT;
    unsigned red, green, blue;
    colour_of(node->name, &red, &green, &blue);
    fputs("<g><title>", out);
    xml_text_write(out, node->name, SIZE_MAX);
    fprintf(out, ": %" PRIu64 " byte%s in %" PRIu64 " block%s (%.2f%%)</title>", node->bytes,
            plural(node->bytes), node->blocks, plural(node->blocks),
            total ? 100.0 * (double)node->bytes / (double)total : 0.0);
    fprintf(out, "<rect x=\"%.2f\" y=\"%u\" width=\"%.2f\" height=\"%u\" "
                 "fill=\"rgb(%u,%u,%u)\" rx=\"2\"/>",
            x, y, width, ROW_HEIGHT - 1, red, green, blue);
    size_t fits = (size_t)((width - 6) / CHARACTER_WIDTH);
    if (fits >= 3) {
        fprintf(out, "<text x=\"%.2f\" y=\"%u\">", x + 3, y + ROW_HEIGHT - 4);
        size_t length = xml_text_characters(node->name);
        xml_text_write(out, node->name, length <= fits ? length : fits - 2);
        if (length > fits)
            fputs("..", out);
        fputs("</text>", out);
    }
    fputs("</g>\n", out);
    /* Children in name order, left to right, so the picture does not depend on input order. */
    size_t count = 0;
    for (const struct node *child = node->children; child; child = child->sibling)
        count++;
    const struct node **children = calloc(count + 1, sizeof(struct node *));
    if (children == NULL)
        return;
    count = 0;
    for (const struct node *child = node->children; child; child = child->sibling)
        children[count++] = child;
    qsort(children, count, sizeof(const struct node *), compare_names);
    double child_x = x;
    for (size_t i = 0; i < count; i++) {
        draw(out, children[i], child_x, level + 1, scale, height, total);
        child_x += (double)children[i]->bytes * scale;
    }
    free(children);
}

void flame_graph_write(FILE *out, const struct outstanding *list, size_t count, size_t top)
{
    struct node *root = checked_calloc(1, sizeof *root);
    root->name = "all";
    size_t drawn = 0;
    for (size_t i = 0; i < count && drawn < top; i++) {
        if (list[i].kind == KIND_ORPHAN_FREE)
            continue;
        drawn++;
        const struct aggregate *a = &list[i].stack->by_kind[list[i].kind];
        json_t *frames = list[i].stack->frames;
        struct node *node = root;
        root->bytes = bytes_add(root->bytes, a->bytes);
        root->blocks += a->count;
        size_t depth = json_array_size(frames);
        size_t innermost = depth > MAX_DRAWN_DEPTH ? depth - MAX_DRAWN_DEPTH : 1;
        for (size_t f = depth; f-- > innermost;) {
            const char *name = json_string_value(json_object_get(json_array_get(frames, f), "f"));
            node = child_named(node, name != NULL ? name : "?");
            /* Never more than the root's: every box fits the picture's width. */
            node->bytes = bytes_add(node->bytes, a->bytes);
            node->blocks += a->count;
        }
    }
    unsigned height = depth_of(root) * ROW_HEIGHT + TOP_MARGIN;
    fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"
                 "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%u\" "
                 "viewBox=\"0 0 %.0f %u\" font-family=\"monospace\" font-size=\"12\">\n"
                 "<rect x=\"0\" y=\"0\" width=\"100%%\" height=\"100%%\" fill=\"#fdfdf6\"/>\n"
                 "<text x=\"%.0f\" y=\"22\" text-anchor=\"middle\" font-size=\"16\">"
                 "malloc-trace: %" PRIu64 " byte%s outstanding in %" PRIu64 " block%s"
                 "</text>\n",
            WIDTH, height, WIDTH, height, WIDTH / 2, root->bytes, plural(root->bytes),
            root->blocks, plural(root->blocks));
    double scale = root->bytes ? WIDTH / (double)root->bytes : 0;
    if (root->bytes)
        draw(out, root, 0, 0, scale, height, root->bytes);
    fputs("</svg>\n", out);
    free_tree(root);
    free(nodes.slots);
    nodes.slots = NULL;
    nodes.capacity = nodes.count = 0;
}
