# Worker autoscaling on SQS backlog, with the guide's numbers: about 10 visible messages per worker,
# between 1 and 5 workers.
#
# Why target tracking on "backlog per task" (ApproximateNumberOfMessagesVisible / RunningTaskCount):
# target tracking needs a metric that falls as tasks are added. Queue depth alone does not (a
# target of "10 messages" on it would keep adding workers while the queue is deep, however many
# there are), and a step policy needs hand-tuned alarm thresholds and steps per size. Backlog per
# task is AWS's recommended metric for queue workers: with 40 messages and 2 workers it reads 20,
# so the service grows to 4; when the queue drains it reads 0 and the service shrinks (slowly, as
# target tracking scales in conservatively) back to 1.

resource "aws_appautoscaling_target" "worker" {
  service_namespace  = "ecs"
  scalable_dimension = "ecs:service:DesiredCount"
  resource_id        = "service/${aws_ecs_cluster.main.name}/${aws_ecs_service.worker.name}"
  min_capacity       = var.worker_min_count
  max_capacity       = var.worker_max_count
}

resource "aws_appautoscaling_policy" "worker_backlog" {
  name               = "${local.name}-worker-backlog-per-task"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.worker.service_namespace
  scalable_dimension = aws_appautoscaling_target.worker.scalable_dimension
  resource_id        = aws_appautoscaling_target.worker.resource_id

  target_tracking_scaling_policy_configuration {
    target_value       = var.worker_target_messages_per_task
    scale_out_cooldown = 60
    scale_in_cooldown  = 300

    customized_metric_specification {
      metrics {
        id          = "backlog"
        label       = "Visible messages in the check queue"
        return_data = false
        metric_stat {
          metric {
            namespace   = "AWS/SQS"
            metric_name = "ApproximateNumberOfMessagesVisible"
            dimensions {
              name  = "QueueName"
              value = aws_sqs_queue.checks.name
            }
          }
          stat = "Average"
        }
      }

      metrics {
        id          = "workers"
        label       = "Running worker tasks"
        return_data = false
        metric_stat {
          metric {
            namespace   = "ECS/ContainerInsights"
            metric_name = "RunningTaskCount"
            dimensions {
              name  = "ClusterName"
              value = aws_ecs_cluster.main.name
            }
            dimensions {
              name  = "ServiceName"
              value = aws_ecs_service.worker.name
            }
          }
          stat = "Average"
        }
      }

      metrics {
        id    = "backlog_per_task"
        label = "Visible messages per running worker"
        # With no running worker (all crashed) count the whole backlog, so the service scales out.
        expression  = "IF(workers > 0, backlog / workers, backlog)"
        return_data = true
      }
    }
  }
}
