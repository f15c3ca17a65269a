"""Every config key, and the tests whose assertions fail if firebell ignored it.

One line per key, grouped by section, as `module path::test function` ids (a
parametrized test by its function name). A section key (`sources`, `grouping`, a list
of users) has an effect only through its keys: it names a test of one of them.
tests/bot/config/test_every_key_has_effect.py checks this table against the config
model: a new key needs a row (and a test), a removed key must lose its row.
"""

# One row per key, however long its test ids: the table is read, not wrapped.
# ruff: noqa: E501
# fmt: off

from __future__ import annotations

Tests = tuple[str, ...]

_DECISIONS = "tests/routing/paging/test_decisions.py::"
_ESCALATION = "tests/routing/paging/test_escalation.py::"
_TREE = "tests/routing/muting/test_tree.py::"
_INTERVALS = "tests/routing/muting/test_time_interval.py::"
_POLICY = "tests/bot/config/test_key_effects_policy.py::"
_ROTATIONS = "tests/routing/oncall/test_schedule_rotations.py::"
_LAYERS = "tests/routing/oncall/test_schedule_layers.py::"
_REMINDERS = "tests/routing/paging/test_silence_reminder_decisions.py::"
_INGEST_POLICY = "tests/bot/runtime/test_ingest_policy.py::"
_FLAPPING = "tests/bot/workers/test_flapping_e2e.py::"
_BOUNDS = "tests/bot/runtime/test_intake_bounds.py::"
_E2E = "tests/bot/http/test_e2e_webhooks.py::"
_SYSLOG_E2E = "tests/bot/workers/test_nginx_syslog_e2e.py::"
_SOURCES = "tests/bot/config/test_key_effects_sources.py::"
_SERVE = "tests/bot/config/test_key_effects_serve.py::"
_SLACK = "tests/bot/chat/test_slack.py::"
_DISCORD_HTTP = "tests/bot/chat/test_discord_http.py::"
_CHAT = "tests/bot/config/test_key_effects_chat.py::"
_SIGNED = "tests/integrations/notifiers/test_webhook_contact.py::"

PEOPLE: dict[str, Tests] = {
    "users": (_ESCALATION + "test_user_expands_to_every_contact",),
    "users.name": (_ESCALATION + "test_user_expands_to_every_contact",),
    "users.time_zone": ("tests/bot/commands/test_execute.py::test_read_commands",),
    "users.slack_id": (_SLACK + "test_slack_ids_map_to_users",),
    "users.discord_id": (_DISCORD_HTTP + "test_slow_commands_are_deferred_and_finished_by_a_follow_up",),
    "users.contacts": (_ESCALATION + "test_user_expands_to_every_contact",),
    "users.contacts.url": (_ESCALATION + "test_user_expands_to_every_contact", _SIGNED + "test_signed_pages_end_to_end"),
    "users.contacts.type": (_SIGNED + "test_signed_pages_end_to_end",),
    "users.contacts.secret": (_SIGNED + "test_signed_pages_end_to_end",),
    "users.contacts.every_page": ("tests/routing/paging/test_bundling.py::test_contact_rules_global_user_override_off_and_every_page", "tests/bot/workers/test_bundling_e2e.py::test_a_storm_of_20_pages_is_5_at_once_then_one_bundle"),
    "users.role": ("tests/bot/chat/test_chat_roles.py::test_a_linked_viewer_cannot_change_incidents_from_slack",),
    "teams": (_ESCALATION + "test_resolve_targets_example",),
    "teams.name": (_ESCALATION + "test_resolve_targets_example",),
    "teams.members": (_REMINDERS + "test_creator_in_two_teams_is_reminded_in_every_channel_once",),
    "teams.channels": (_ESCALATION + "test_resolve_targets_example",),
}

SCHEDULES: dict[str, Tests] = {
    "schedules": (_ESCALATION + "test_resolve_targets_example",),
    "schedules.name": (_ESCALATION + "test_resolve_targets_example",),
    "schedules.time_zone": (_ROTATIONS + "test_daily_handoff_stays_at_local_nine_across_dst",),
    "schedules.layers": (_LAYERS + "test_issue_example",),
    "schedules.layers.rotation": (_ROTATIONS + "test_hourly_follows_local_minute_and_real_hours",),
    "schedules.layers.members": (_ROTATIONS + "test_daily_handoff_stays_at_local_nine_across_dst",),
    "schedules.layers.handoff": (_ROTATIONS + "test_weekly_handoff_across_spring_forward",),
    "schedules.layers.length": (_ROTATIONS + "test_custom_lengths",),
    "schedules.layers.start": (_ROTATIONS + "test_custom_lengths", _ROTATIONS + "test_daily_handoff_stays_at_local_nine_across_dst"),
    "schedules.layers.restrict": (_LAYERS + "test_restriction_crossing_midnight",),
    "schedules.overrides": (_LAYERS + "test_override_with_offset_and_latest_wins",),
    "schedules.overrides.user": (_LAYERS + "test_override_with_offset_and_latest_wins",),
    "schedules.overrides.start": (_LAYERS + "test_override_with_offset_and_latest_wins",),
    "schedules.overrides.end": (_LAYERS + "test_override_with_offset_and_latest_wins",),
}

ESCALATION: dict[str, Tests] = {
    "escalation_policies": (_ESCALATION + "test_plan_waits_and_passes",),
    "escalation_policies.name": (_DECISIONS + "test_routes_with_continue_start_each_policy_once_and_dedupe_channels",),
    "escalation_policies.repeat": (_DECISIONS + "test_repeat_two_means_three_passes_with_waits_from_when_a_step_ran",),
    "escalation_policies.steps": (_ESCALATION + "test_plan_waits_and_passes",),
    "escalation_policies.steps.notify": (_ESCALATION + "test_resolve_targets_example",),
    "escalation_policies.steps.wait": (_ESCALATION + "test_plan_waits_and_passes",),
}

ROUTES: dict[str, Tests] = {
    "route": (_TREE + "test_route_table",),
    "route.receiver": (_TREE + "test_receiver_inherited_when_child_sets_none",),
    "route.receiver.escalation": (_DECISIONS + "test_routes_with_continue_start_each_policy_once_and_dedupe_channels",),
    "route.receiver.channels": (_TREE + "test_route_table",),
    "route.matchers": (_TREE + "test_route_table",),
    "route.continue": (_TREE + "test_route_table",),
    "route.group_by": (_TREE + "test_route_table", "tests/bot/http/test_e2e_grouping.py::test_no_service_no_wildcards_and_the_route_group_by"),
    "route.group_wait": (_TREE + "test_route_table", "tests/bot/cli/test_simulate_paging.py::test_group_wait_delays_every_step"),
    "route.group_interval": (_POLICY + "test_a_routes_group_interval_and_repeat_interval_time_its_channel_posts",),
    "route.repeat_interval": (_TREE + "test_timers_inherit_and_default", _POLICY + "test_a_routes_group_interval_and_repeat_interval_time_its_channel_posts"),
    "route.active_time_intervals": (_TREE + "test_time_intervals_mute_but_still_match",),
    "route.mute_time_intervals": (_DECISIONS + "test_time_intervals_mute_a_route_outside_its_window",),
    "route.routes": (_TREE + "test_route_table",),
}

TIME_INTERVALS: dict[str, Tests] = {
    "time_intervals": (_DECISIONS + "test_time_intervals_mute_a_route_outside_its_window",),
    "time_intervals.name": (_DECISIONS + "test_time_intervals_mute_a_route_outside_its_window",),
    "time_intervals.weekdays": (_INTERVALS + "test_contains_table",),
    "time_intervals.times": (_INTERVALS + "test_contains_table",),
    "time_intervals.days_of_month": (_INTERVALS + "test_contains_table",),
    "time_intervals.months": (_INTERVALS + "test_contains_table",),
    "time_intervals.years": (_INTERVALS + "test_contains_table",),
    "time_intervals.location": (_INTERVALS + "test_location_follows_dst",),
    "time_intervals.time_intervals": (_INTERVALS + "test_contains_table",),
    "time_intervals.time_intervals.weekdays": (_POLICY + "test_each_key_of_a_nested_time_interval_decides",),
    "time_intervals.time_intervals.times": (_POLICY + "test_each_key_of_a_nested_time_interval_decides",),
    "time_intervals.time_intervals.days_of_month": (_POLICY + "test_each_key_of_a_nested_time_interval_decides",),
    "time_intervals.time_intervals.months": (_POLICY + "test_each_key_of_a_nested_time_interval_decides",),
    "time_intervals.time_intervals.years": (_POLICY + "test_each_key_of_a_nested_time_interval_decides",),
    "time_intervals.time_intervals.location": (_POLICY + "test_each_key_of_a_nested_time_interval_decides",),
}

MUTING: dict[str, Tests] = {
    "inhibit_rules": (_DECISIONS + "test_inhibition_by_a_firing_source_with_equal_labels",),
    "inhibit_rules.source_matchers": ("tests/routing/muting/test_inhibition.py::test_inhibition_table",),
    "inhibit_rules.target_matchers": ("tests/routing/muting/test_inhibition.py::test_inhibition_table",),
    "inhibit_rules.equal": ("tests/routing/muting/test_inhibition.py::test_inhibition_table",),
    "silences": ("tests/routing/paging/test_store_muting.py::test_config_silences_are_named_by_their_place",),
    "silences.id": (_POLICY + "test_a_config_silences_id_names_it_where_it_mutes", _DECISIONS + "test_a_silence_wins_and_names_itself"),
    "silences.matchers": (_DECISIONS + "test_an_expired_or_unmatched_silence_does_not_mute",),
    "silences.starts_at": (_DECISIONS + "test_an_expired_or_unmatched_silence_does_not_mute",),
    "silences.ends_at": (_DECISIONS + "test_an_expired_or_unmatched_silence_does_not_mute",),
    "silences.created_by": (_REMINDERS + "test_no_team_channel_falls_back_to_the_root_route",),
    "silences.comment": ("tests/routing/paging/test_store_muting.py::test_config_silences_are_named_by_their_place",),
    "silences.recurrence": ("tests/routing/paging/test_store_muting.py::test_config_silences_are_named_by_their_place",),
    "silences.recurrence.weekdays": ("tests/routing/muting/test_recurring_status.py::test_status",),
    "silences.recurrence.times": ("tests/routing/muting/test_recurring_status.py::test_status",),
    "silences.recurrence.time_zone": ("tests/routing/muting/test_recurring_status.py::test_status",),
}

DATABASE: dict[str, Tests] = {
    "database_url": ("tests/bot/config/test_database_timeouts.py::test_serve_builds_its_engine_with_the_configured_deadlines",),
    "database": ("tests/bot/config/test_database_timeouts.py::test_serve_builds_its_engine_with_the_configured_deadlines",),
    "database.connect_timeout": ("tests/bot/config/test_database_timeouts.py::test_serve_builds_its_engine_with_the_configured_deadlines",),
    "database.statement_timeout": ("tests/bot/config/test_database_timeouts.py::test_serve_builds_its_engine_with_the_configured_deadlines",),
    "database.pool_timeout": (_SERVE + "test_pool_timeout_bounds_the_wait_for_a_pooled_connection",),
}

API: dict[str, Tests] = {
    "api_tokens": (_E2E + "test_bad_input_gets_a_clear_error_and_writes_nothing",),
    "api_tokens.token": ("tests/bot/http/test_identities_e2e.py::test_writes_name_the_authenticated_caller_and_roles_are_enforced",),
    "api_tokens.user": ("tests/bot/http/test_identities_e2e.py::test_writes_name_the_authenticated_caller_and_roles_are_enforced",),
    "api_tokens.name": ("tests/bot/http/test_identities_e2e.py::test_writes_name_the_authenticated_caller_and_roles_are_enforced",),
    "api_tokens.role": ("tests/bot/config/test_identities.py::test_people_and_machines_get_their_names_and_roles",),
    "max_body_bytes": (_E2E + "test_bad_input_gets_a_clear_error_and_writes_nothing",),
    "public_url": (_SERVE + "test_public_url_is_the_base_of_the_links_in_a_page",),
}

SOURCES: dict[str, Tests] = {
    "sources": (_E2E + "test_every_source_lands_in_one_incident_per_service",),
    "sources.alertmanager": (_E2E + "test_every_source_lands_in_one_incident_per_service",),
    "sources.alertmanager.bearer_token": (_E2E + "test_every_source_lands_in_one_incident_per_service",),
    "sources.alertmanager.basic_auth": (_SOURCES + "test_alertmanager_basic_auth_is_the_credential",),
    "sources.alertmanager.basic_auth.username": (_SOURCES + "test_alertmanager_basic_auth_is_the_credential",),
    "sources.alertmanager.basic_auth.password": (_SOURCES + "test_alertmanager_basic_auth_is_the_credential",),
    "sources.sentry": (_E2E + "test_every_source_lands_in_one_incident_per_service",),
    "sources.sentry.client_secret": (_E2E + "test_every_source_lands_in_one_incident_per_service",),
    "sources.sentry.services": (_E2E + "test_every_source_lands_in_one_incident_per_service",),
    "sources.sentry.legacy_token": (_SOURCES + "test_sentry_legacy_token_is_the_url_path",),
    "sources.nginx": (_SYSLOG_E2E + "test_local_times_and_a_sliding_threshold_over_syslog",),
    "sources.nginx.token": (_E2E + "test_every_source_lands_in_one_incident_per_service",),
    "sources.nginx.syslog": (_SYSLOG_E2E + "test_local_times_and_a_sliding_threshold_over_syslog",),
    "sources.nginx.syslog.listen": (_SYSLOG_E2E + "test_local_times_and_a_sliding_threshold_over_syslog",),
    "sources.nginx.services": (_SYSLOG_E2E + "test_local_times_and_a_sliding_threshold_over_syslog",),
    "sources.nginx.threshold": (_SYSLOG_E2E + "test_local_times_and_a_sliding_threshold_over_syslog",),
    "sources.nginx.threshold.count": (_SYSLOG_E2E + "test_local_times_and_a_sliding_threshold_over_syslog",),
    "sources.nginx.threshold.window": (_SOURCES + "test_nginx_threshold_window_is_the_sliding_window",),
    "sources.nginx.resolve_after": ("tests/bot/workers/test_sweeper_replicas.py::test_two_worker_processes_resolve_each_quiet_alert_once",),
    "sources.nginx.time_zone": (_SYSLOG_E2E + "test_local_times_and_a_sliding_threshold_over_syslog",),
    "sources.generic": (_SOURCES + "test_generic_token_is_the_credential",),
    "sources.generic.token": (_SOURCES + "test_generic_token_is_the_credential",),
    "services": (_SOURCES + "test_services_map_any_sources_sender_name_to_a_service",),
}

GROUPING: dict[str, Tests] = {
    "grouping": (_INGEST_POLICY + "test_group_by_reaches_ingest",),
    "grouping.group_by": (_INGEST_POLICY + "test_group_by_reaches_ingest",),
    "grouping.reopen_window": (_INGEST_POLICY + "test_reopen_window_decides_reopen_or_new_episode",),
    "grouping.flap_flips": (_INGEST_POLICY + "test_flap_flips_decides_when_an_alert_is_flapping",),
    "grouping.flap_quiet": (_FLAPPING + "test_reopens_of_a_flapping_alert_are_recorded_not_paged_until_quiet",),
    "grouping.group_wait": ("tests/bot/cli/test_simulate_grouping.py::test_grouping_group_wait_is_the_root_routes_group_wait",),
    "grouping.correlate_within": ("tests/bot/http/test_e2e_grouping.py::test_another_source_joins_within_correlate_within_and_not_after",),
}

INTAKE: dict[str, Tests] = {
    "intake": (_BOUNDS + "test_the_config_intake_section_sets_the_limits",),
    "intake.queue_size": (_BOUNDS + "test_the_config_intake_section_sets_the_limits", _BOUNDS + "test_a_full_request_lane_refuses_at_once_and_loses_nothing_queued"),
    "intake.syslog_queue_size": (_BOUNDS + "test_the_config_intake_section_sets_the_limits", _BOUNDS + "test_requests_go_before_syslog_lines_and_a_full_syslog_lane_refuses"),
    "intake.syslog_batch": (_BOUNDS + "test_the_config_intake_section_sets_the_limits", _BOUNDS + "test_requests_go_before_syslog_lines_and_a_full_syslog_lane_refuses"),
    "intake.request_timeout": (_BOUNDS + "test_the_config_intake_section_sets_the_limits", _BOUNDS + "test_a_request_that_times_out_while_queued_is_never_written"),
    "intake.stall_after": (_SERVE + "test_stall_after_is_how_long_a_silent_loop_may_go_before_readyz_fails",),
}

CHAT: dict[str, Tests] = {
    "slack": (_SLACK + "test_slash_command_changes_the_incident_and_answers_in_channel",),
    "slack.bot_token": (_SLACK + "test_changes_from_any_surface_update_posted_messages",),
    "slack.signing_secret": (_SLACK + "test_slash_command_changes_the_incident_and_answers_in_channel", _SLACK + "test_bad_signature_and_stale_timestamp_are_refused"),
    "slack.app_token": ("tests/bot/chat/test_slack_socket_mode.py::test_slash_command_and_button_over_socket_mode",),
    "slack.api_url": (_SLACK + "test_changes_from_any_surface_update_posted_messages",),
    "slack.command": (_CHAT + "test_slack_command_is_the_slash_command_served",),
    "slack.allow_unknown_users": ("tests/bot/commands/test_execute.py::test_allow_unknown_users_lets_them_act_under_their_chat_name",),
    "discord": (_DISCORD_HTTP + "test_slash_commands_run_the_command_layer",),
    "discord.bot_token": (_CHAT + "test_discord_bot_token_authorizes_the_bots_messages",),
    "discord.application_id": (_CHAT + "test_discord_application_id_is_the_application_the_bot_acts_as",),
    "discord.public_key": (_DISCORD_HTTP + "test_ping_pong_and_signature_checks",),
    "discord.api_url": (_DISCORD_HTTP + "test_slow_commands_are_deferred_and_finished_by_a_follow_up",),
    "discord.guild_id": ("tests/bot/chat/test_discord_gateway.py::test_setup_registers_the_incident_group_in_the_guild",),
    "discord.allow_unknown_users": (_CHAT + "test_discord_allow_unknown_users_lets_strangers_act_on_discord_only",),
}

_CONN = "tests/bot/config/test_key_effects_connections.py::"
_CATALOG = "tests/playbooks/test_catalog.py::"
_LOKI = "tests/integrations/logs/test_loki.py::"
_ES = "tests/integrations/logs/test_elasticsearch.py::"
_SENTRY = "tests/integrations/logs/test_sentry_event.py::"
_OUTBOUND = "tests/integrations/logs/test_outbound.py::"
_FILES = "tests/integrations/logs/test_files.py::"
_JOURNALD = "tests/integrations/logs/test_journald.py::"
_CI = "tests/integrations/ci/"
_CI_CONN = _CI + "test_connections.py::"
_CI_LOOPBACK = _CI_CONN + "test_a_ci_connection_to_loopback_is_refused_unless_allow_private"
_CI_BOUNDS = _CI_CONN + "test_timeout_and_response_cap_bound_a_dispatch_which_is_then_ambiguous"
_CI_SECRETS = _CI_CONN + "test_ci_credentials_are_masked_in_dumps_and_known_as_secrets"
_CI_POLL = (_CI_BOUNDS, "tests/playbooks/test_remote_steps.py::test_runner_keeps_no_lease_while_a_step_waits")
_GH = _CI + "test_github.py::"
_GL = _CI + "test_gitlab.py::"
_JK = _CI + "test_jenkins.py::"
_WH = _CI + "test_webhook.py::"


def _ci_common(kind: str, used: str) -> dict[str, Tests]:
    """The keys every CI connection shares; `used`: a test that sends with it."""
    return {
        f"connections.{kind}.type": (_CI + "test_registry.py::test_the_issues_connections_load", _CI_LOOPBACK),
        f"connections.{kind}.url": (used, _CI_LOOPBACK),
        f"connections.{kind}.allow_private": (_CI_LOOPBACK,),
        f"connections.{kind}.timeout": (_CI_BOUNDS,),
        f"connections.{kind}.max_response_bytes": (_CI_BOUNDS,),
        f"connections.{kind}.poll_interval": _CI_POLL,
    }

PLAYBOOKS: dict[str, Tests] = {
    "playbooks": (_CATALOG + "test_the_issues_config_pair_loads", _CATALOG + "test_the_folder_is_read_next_to_the_config_file", _CONN + "test_playbooks_is_the_folder_loaded_next_to_the_config"),
    "connections": (_CONN + "test_the_type_picks_the_connection_model", _CATALOG + "test_check_config_names_each_problem_by_file_and_path"),
    "connections.loki.type": (_CONN + "test_the_type_picks_the_connection_model",),
    "connections.loki.url": (_LOKI + "test_basic_auth_and_window_and_limit", _CONN + "test_a_connection_to_a_non_public_address_is_refused_unless_allow_private"),
    "connections.loki.allow_private": (_CONN + "test_a_connection_to_a_non_public_address_is_refused_unless_allow_private", _OUTBOUND + "test_a_name_on_loopback_is_refused_unless_allowed_and_then_reached_at_the_checked_ip"),
    "connections.loki.timeout": (_CONN + "test_each_http_connection_s_timeout_and_response_cap_bound_its_requests", _OUTBOUND + "test_a_slow_answer_fails_at_the_connection_timeout"),
    "connections.loki.max_response_bytes": (_CONN + "test_each_http_connection_s_timeout_and_response_cap_bound_its_requests", _OUTBOUND + "test_oversize_answers_are_refused_declared_or_streamed"),
    "connections.loki.username": (_LOKI + "test_basic_auth_and_window_and_limit",),
    "connections.loki.password": (_LOKI + "test_basic_auth_and_window_and_limit", _CONN + "test_connection_credentials_are_masked_in_dumps_and_scrubbed_from_logs"),
    "connections.loki.token": (_LOKI + "test_query_range_request_and_lines_oldest_first", _CONN + "test_connection_credentials_are_masked_in_dumps_and_scrubbed_from_logs"),
    "connections.loki.org_id": (_LOKI + "test_query_range_request_and_lines_oldest_first",),
    "connections.elasticsearch.type": (_CONN + "test_the_type_picks_the_connection_model",),
    "connections.elasticsearch.url": (_ES + "test_search_request_and_hits_oldest_first", _CONN + "test_a_connection_to_a_non_public_address_is_refused_unless_allow_private"),
    "connections.elasticsearch.allow_private": (_CONN + "test_a_connection_to_a_non_public_address_is_refused_unless_allow_private",),
    # The shared HTTP client reads timeout and max_response_bytes of every HTTP connection.
    "connections.elasticsearch.timeout": (_CONN + "test_each_http_connection_s_timeout_and_response_cap_bound_its_requests",),
    "connections.elasticsearch.max_response_bytes": (_CONN + "test_each_http_connection_s_timeout_and_response_cap_bound_its_requests",),
    "connections.elasticsearch.username": (_ES + "test_opensearch_with_basic_auth_index_override_and_int_total",),
    "connections.elasticsearch.password": (_ES + "test_opensearch_with_basic_auth_index_override_and_int_total", _CONN + "test_connection_credentials_are_masked_in_dumps_and_scrubbed_from_logs"),
    "connections.elasticsearch.index": (_ES + "test_index_is_one_percent_encoded_segment",),
    "connections.elasticsearch.api_key": (_ES + "test_search_request_and_hits_oldest_first", _CONN + "test_connection_credentials_are_masked_in_dumps_and_scrubbed_from_logs"),
    "connections.elasticsearch.flavor": (_ES + "test_opensearch_with_basic_auth_index_override_and_int_total", _ES + "test_bad_connections_are_refused"),
    "connections.sentry.type": (_CONN + "test_a_connection_to_a_non_public_address_is_refused_unless_allow_private",),
    "connections.sentry.url": (_SENTRY + "test_latest_event_request_and_text", _SENTRY + "test_connection_defaults_to_sentry_io_and_needs_org_and_token"),
    "connections.sentry.allow_private": (_CONN + "test_a_connection_to_a_non_public_address_is_refused_unless_allow_private",),
    "connections.sentry.timeout": (_CONN + "test_each_http_connection_s_timeout_and_response_cap_bound_its_requests",),
    "connections.sentry.max_response_bytes": (_CONN + "test_each_http_connection_s_timeout_and_response_cap_bound_its_requests",),
    "connections.sentry.organization": (_SENTRY + "test_latest_event_request_and_text",),
    "connections.sentry.token": (_SENTRY + "test_latest_event_request_and_text", _CONN + "test_connection_credentials_are_masked_in_dumps_and_scrubbed_from_logs"),
    "connections.files.type": (_FILES + "test_path_outside_the_globs_is_refused_at_plan_and_fetch",),
    "connections.files.paths": (_FILES + "test_path_outside_the_globs_is_refused_at_plan_and_fetch", _FILES + "test_symlink_out_of_the_glob_is_refused"),
    "connections.files.max_scan_bytes": (_FILES + "test_scan_budget_stops_and_says_so",),
    "connections.journald.type": (_JOURNALD + "test_plan_is_an_argument_list",),
    "connections.journald.directory": (_JOURNALD + "test_other_unit_and_directory_connection",),
    "connections.journald.file": (_JOURNALD + "test_unit_and_since_filter_oldest_first",),
    "connections.journald.timeout": (_CONN + "test_the_journald_connection_s_timeout_bounds_journalctl", _JOURNALD + "test_timeout_and_cancel_leave_no_process"),
    "connections.journald.max_output_bytes": (_JOURNALD + "test_output_cap_keeps_the_newest",),
    **_ci_common("github", _GH + "test_dispatch_with_run_details_then_polls_to_the_conclusion"),
    "connections.github.token": (_GH + "test_a_refusal_names_the_answer_without_the_token", _CI_SECRETS),
    **_ci_common("gitlab", _GL + "test_trigger_sends_the_token_in_the_body_and_follows_the_status_sequence"),
    "connections.gitlab.project": (_GL + "test_trigger_sends_the_token_in_the_body_and_follows_the_status_sequence", _GL + "test_numeric_and_path_projects_and_arguments"),
    "connections.gitlab.trigger_token": (_GL + "test_a_wrong_trigger_token_is_refused_and_cancel_reaches_gitlab", _CI_SECRETS),
    "connections.gitlab.api_token": (_GL + "test_trigger_sends_the_token_in_the_body_and_follows_the_status_sequence", _CI_SECRETS),
    **_ci_common("jenkins", _JK + "test_build_with_parameters_queue_item_then_build_to_its_result"),
    "connections.jenkins.user": (_JK + "test_build_with_parameters_queue_item_then_build_to_its_result",),
    "connections.jenkins.api_token": (_JK + "test_build_with_parameters_queue_item_then_build_to_its_result", _CI_SECRETS),
    **_ci_common("webhook", _WH + "test_a_signed_post_the_receiver_verifies_and_accepts"),
    "connections.webhook.secret": (_WH + "test_a_wrong_secret_is_refused_by_the_receiver_and_not_ambiguous", _CI_SECRETS),
}

_BUNDLING = "tests/bot/workers/test_bundling_worker.py::"
_BUNDLING_E2E = "tests/bot/workers/test_bundling_e2e.py::"

PAGING: dict[str, Tests] = {
    "paging": (_BUNDLING + "test_global_rule_user_override_and_off",),
    "paging.bundle": (_BUNDLING_E2E + "test_a_storm_of_20_pages_is_5_at_once_then_one_bundle", _BUNDLING + "test_global_rule_user_override_and_off"),
    "users.bundle": (_BUNDLING + "test_global_rule_user_override_and_off", "tests/bot/workers/test_paging_processes.py::test_split_worker_killed_mid_storm_pages_each_incident_exactly_once"),
    # One BundleRule model, walked once (here): its keys are paging.bundle's too.
    "users.bundle.max_pages": (_BUNDLING + "test_global_rule_user_override_and_off", _BUNDLING_E2E + "test_a_storm_of_20_pages_is_5_at_once_then_one_bundle"),
    "users.bundle.window": (_BUNDLING + "test_global_rule_user_override_and_off", _BUNDLING + "test_a_new_worker_flushes_what_the_previous_one_held"),
}

_WEB_AUTH = "tests/bot/web/test_auth.py::"

WEB: dict[str, Tests] = {
    "web": (_WEB_AUTH + "test_login_sets_a_session_cookie",),
    "web.session_secret": (_WEB_AUTH + "test_session_secret_keeps_sessions_across_token_changes",),
    "web.session_ttl": (_WEB_AUTH + "test_login_sets_a_session_cookie",),
    "web.trusted_user_header": (_WEB_AUTH + "test_trusted_proxy_header_only_from_trusted_peers", "tests/bot/web/test_live.py::test_a_proxy_on_loopback_names_the_user_of_a_real_server"),
    "web.trusted_proxies": (_WEB_AUTH + "test_trusted_proxy_header_only_from_trusted_peers", "tests/bot/web/test_live.py::test_a_proxy_on_loopback_names_the_user_of_a_real_server"),
}

KEY_EFFECTS: dict[str, Tests] = {
    **WEB,
    **PAGING,
    **PEOPLE,
    **SCHEDULES,
    **ESCALATION,
    **ROUTES,
    **TIME_INTERVALS,
    **MUTING,
    **DATABASE,
    **API,
    **SOURCES,
    **GROUPING,
    **INTAKE,
    **CHAT,
    **PLAYBOOKS,
}
