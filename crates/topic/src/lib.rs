//! Topic names and filters: validation, matching, the subscription trie, shared subscriptions, reserved topics
