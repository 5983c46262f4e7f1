// Removing one element from an nginx chunked list (ngx_list_t) in place.
//
// Other modules keep pointers into a request's header list (r->headers_in.host and friends),
// so no surviving element may move. Two nginx conventions must also survive the removal:
//  * code that walks the list steps into `part->next` and reads element 0 without checking
//    that part is non-empty, so every part reached through `next` must hold an element;
//  * ngx_list_push writes into `last` while `last->nelts < nalloc`, assuming room for `nalloc`
//    elements from `last->elts`; after a split that is no longer true, so `nalloc` is lowered
//    to `last->nelts` (the last part reads as full and the next push starts a fresh part).
// Written as a template over nginx's field names so it is tested without nginx.
#pragma once

#include <cstddef>

namespace captain {

// Where a walk over the list continues after a removal: element `index` of `part`.
template <typename Part>
struct ListCursor {
  Part* prev;  // the part before `part`, nullptr when `part` is the list's first part
  Part* part;  // nullptr when the walk is over
  std::size_t index;
};

// Removes element `index` of `part` (`prev` is the part before it, nullptr for list.part).
// `allocate(bytes)` returns pool memory or nullptr. Returns false only when allocation fails,
// in which case the list is unchanged.
template <typename List, typename Part, typename Allocate>
bool remove_list_element(List& list, Part* prev, Part* part, std::size_t index, Allocate allocate,
                         ListCursor<Part>* next) {
  Part* const first = &list.part;
  const std::size_t tail = part->nelts - index - 1;

  // Allocate first, so that a failure leaves the list as it was.
  Part* rest = nullptr;
  if (index != 0 && tail != 0) {
    rest = static_cast<Part*>(allocate(sizeof(Part)));
    if (rest == nullptr) return false;
  }
  // The list ends up with an empty last part (only the first part may be empty) when its one
  // remaining element goes: that part gets fresh room for `nalloc` pushes.
  const bool leaves_empty_last = part->nelts == 1 && part->next == nullptr &&
                                 (part == first || (prev == first && first->nelts == 0));
  void* room = nullptr;
  if (leaves_empty_last) {
    room = allocate(list.size * (list.nalloc != 0 ? list.nalloc : 1));
    if (room == nullptr) return false;
  }

  if (rest != nullptr) {
    // In the middle: the elements after `index` become a part of their own.
    rest->elts = static_cast<char*>(part->elts) + (index + 1) * list.size;
    rest->nelts = tail;
    rest->next = part->next;
    part->nelts = index;
    part->next = rest;
    if (list.last == part) list.last = rest;
    *next = {part, rest, 0};
  } else if (tail != 0) {
    // The first of several: the part starts one element later.
    part->elts = static_cast<char*>(part->elts) + list.size;
    part->nelts = tail;
    *next = {prev, part, 0};
  } else if (index != 0) {
    // The last of several.
    part->nelts = index;
    *next = {part, part->next, 0};
  } else if (part != first) {
    // The only element of a later part: unlink the part.
    prev->next = part->next;
    if (list.last == part) list.last = prev;
    *next = {prev, prev->next, 0};
  } else {
    // The only element of the first part, which stays (empty) at the head of the list.
    part->nelts = 0;
    *next = {part, part->next, 0};
  }

  if (leaves_empty_last) {
    list.last->elts = room;
    if (list.nalloc == 0) list.nalloc = 1;
  } else {
    list.nalloc = list.last->nelts;
  }
  return true;
}

}  // namespace captain
