"""A33 data release: retirees' information goes to another unit or person only under a
release request (requester, purpose, recipient, scope, fields, row cap) approved by the
city centre or, within its district, the district centre. Exports of more than
RELEASE_FREE_ROWS rows, or with unmasked ID numbers or phones, need one; the file
carries the request number and the release is audited."""
