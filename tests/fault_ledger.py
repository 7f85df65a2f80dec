"""The #10 fault kinds tested outside the live-path fault suite, and the test that proves each.

``tests/reliability/test_fault_suite.py`` prints its own table for the faults that go through
the live or replay path (server faults, hostile payloads, archive entries). The faults below
need their own set-up (a sandboxed SQL console, a killed backup, a killed Dagster run, a full
disk), so they live in their own tests; each of those tests asserts that nothing was lost or
duplicated (files byte for byte, the previous partition intact, row counts unchanged). At the
end of a run that collected any of them, ``tests/conftest.py`` prints this table with each
test's actual outcome, so the table can never claim a fault is handled when its test failed.
"""

# test function name (module::function, parametrized ids folded) -> fault kind
FAULT_KINDS: dict[str, str] = {
    "test_sql_console.py::test_no_statement_can_touch_the_databases_own_files": "sql: COPY / read_blob / EXPORT / ATTACH on the db, .wal, .wal.recovery, .wal.checkpoint",
    "test_sql_console.py::test_only_one_read_only_query_is_accepted": "sql: any statement but one read-only query (writes, SET, PRAGMA, CALL, stacked)",
    "test_sql_console.py::test_the_connection_itself_cannot_write_even_if_the_check_were_bypassed": "sql: writes on the sandboxed connection itself (second lock)",
    "test_sql_console.py::test_statement_timeout_interrupts_a_runaway_query": "sql: runaway query (timeout)",
    "test_sql_console.py::test_memory_is_capped_by_default_and_configurable": "sql: memory blow-up (cap)",
    "test_sql_console.py::test_missing_held_and_damaged_warehouses_each_say_so": "sql: missing / busy / corrupt warehouse (one line each)",
    "test_backup_restore.py::test_a_row_count_off_by_one_is_refused_before_the_swap": "restore: manifest row count off by one",
    "test_backup_restore.py::test_garbage_with_a_matching_sha256_is_refused": "restore: garbage with matching sha256",
    "test_backup_restore.py::test_manifest_paths_outside_the_backup_are_refused": "restore: manifest path escape",
    "test_backup_restore.py::test_a_pointer_outside_the_backup_dir_is_refused": "restore: pointer escape",
    "test_backup_restore.py::test_sigkill_during_backup_keeps_the_previous_good_backup": "backup: SIGKILL before manifest / before pointer switch",
    "test_backup_restore.py::test_sigkill_during_restore_leaves_the_warehouse_and_the_next_restore_works": "restore: SIGKILL before the swap",
    "test_dagster_instance.py::test_sigkilled_run_frees_its_pool_slot_and_is_marked_failed": "dagster: SIGKILLed run holding the warehouse pool slot",
    "test_dagster_instance.py::test_live_holder_makes_the_next_command_give_up_in_one_line_naming_it": "dagster: live pool holder (bounded wait, one line naming it)",
    "test_dagster_instance.py::test_commands_racing_on_fresh_homes_leave_each_home_usable": "dagster: two commands initialising a fresh DAGSTER_HOME at once",
    "test_dagster_instance.py::test_a_run_blocked_inside_dagster_ends_in_one_line_and_is_marked_failed": "dagster: run stuck in the pool loop (deadline / SIGTERM)",
    "test_write_faults.py::test_disk_full_at_commit_is_one_line_and_keeps_the_previous_partition": "load: disk full at commit",
    "test_write_faults.py::test_read_only_warehouse_is_one_line": "load: read-only warehouse",
    "test_write_faults.py::test_reader_holding_the_file_fails_the_run_in_seconds_with_a_clear_line": "load: a reader holding the file",
    "test_publish_csv.py::test_hostile_model_ids_and_source_names_are_neutralised_in_csv": "publish: CSV formula injection (=, +, -, @, tab, CR)",
    "test_import_source_name.py::test_a_live_source_id_is_refused_and_its_rows_stay": "import: --source-name of a live source",
}


def kind_of(nodeid: str) -> str | None:
    """The fault kind a test proves, from its node id (``tests/x/test_a.py::test_b[param]``)."""
    path, _, name = nodeid.partition("::")
    key = f"{path.rsplit('/', 1)[-1]}::{name.split('[', 1)[0]}"
    return FAULT_KINDS.get(key)
