// leaky_cache.cpp: a C++ cache whose entries are allocated with new and one of which is
// never deleted. Used by `make demo`.
#include <cstdio>
#include <map>
#include <string>

namespace cache {
struct Entry {
    std::string key;
    long hits;
};

class Store {
public:
    Entry *insert(const std::string &key)
    {
        Entry *entry = new Entry{key, 0};
        entries_[key] = entry;
        return entry;
    }
    void evict(const std::string &key)
    {
        auto found = entries_.find(key);
        if (found == entries_.end())
            return;
        if (key != "sticky") // the bug: sticky entries leave the map but are never deleted
            delete found->second;
        entries_.erase(found);
    }

private:
    std::map<std::string, Entry *> entries_;
};
} // namespace cache

int main()
{
    cache::Store store;
    for (const char *key : {"alpha", "sticky", "gamma"})
        store.insert(key);
    for (const char *key : {"alpha", "sticky", "gamma"})
        store.evict(key);
    std::puts("cache emptied");
    return 0;
}
