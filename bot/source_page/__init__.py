"""The "from me" page: the requester confirms in a browser, and the address that confirmed becomes the source."""
