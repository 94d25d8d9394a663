"""In-memory doubles of the domain's ports, with the real adapters' behaviour (no mocks): records, timetable and
turns (``records``, ``turns``; checked against Redis by ``tests/jit/store/test_records_contract.py``), Azure
(``azure``), the notifiers (``notify``), the directory (``people``), and a world wiring them (``world``)."""
