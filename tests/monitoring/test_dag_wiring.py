"""Provision installs monitoring once the operator is ready and before it announces the
platform; teardown removes it before the operator releases. On local both steps skip
(the local stack runs Prometheus and Alertmanager)."""

from __future__ import annotations


def test_provision_installs_monitoring_after_the_operator():
    import platform_provision

    task = platform_provision.dag.get_task("install_monitoring")
    assert task.upstream_task_ids >= {"await_flink_operator_ready"}
    # its helm pods run as helm-installer, removed only after it
    assert "remove_helm_installer" in task.downstream_task_ids
    assert "notify_provisioned" in task.get_flat_relative_ids(upstream=False)


def test_teardown_uninstalls_monitoring_before_the_operator():
    import platform_teardown

    task = platform_teardown.dag.get_task("uninstall_monitoring")
    assert task.upstream_task_ids >= {"delete_flink_deployments"}
    assert "uninstall_operator_releases" in task.get_flat_relative_ids(upstream=False)
    assert task.trigger_rule == "all_done"


def test_local_target_skips_both(platform_config):
    import platform_provision
    import platform_teardown

    config = platform_config.model_dump()
    topic = "arn:aws:sns:us-east-1:123456789012:fraud-alerts-local-demo"
    roles = [f"arn:aws:iam::123456789012:role/{name}-local-demo"
             for name in ("alertmanager-sns", "fluent-bit-logs")]
    installed = platform_provision.install_monitoring.function(config, topic, *roles)
    removed = platform_teardown.uninstall_monitoring.function(config)
    for result in (installed, removed):
        assert result == {"target": "local", "skipped": "monitoring runs in the local stack"}
