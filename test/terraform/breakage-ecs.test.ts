// The ECS runner's, the restore drill's and the dashboard's checks (checks/policy-ecs.ts),
// each shown to fail on a deliberately broken copy of the module.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { loadModule } from './checks/load.ts';
import type { Finding } from './checks/load.ts';
import { append, brokenCopy, removeCopy } from './checks/mutate.ts';
import type { Edit } from './checks/mutate.ts';
import { runCheck } from './checks/policy.ts';

const copies: string[] = [];
after(() => copies.forEach(removeCopy));

async function findings(check: string, edits: readonly Edit[]): Promise<Finding[]> {
  const dir = brokenCopy(edits);
  copies.push(dir);
  return runCheck(check, await loadModule(dir));
}

const cases: { check: string; what: string; edits: Edit[]; message: RegExp }[] = [
  {
    check: 'ecs-task-role',
    what: "the task's S3/KMS policy from another source than the function's",
    edits: [
      {
        file: 'ecs_iam.tf',
        find: '  role   = aws_iam_role.ecs_task[0].id\n  policy = local.backup_writer_policy_json',
        replace: '  role   = aws_iam_role.ecs_task[0].id\n  policy = data.aws_iam_policy_document.reader.json',
      },
    ],
    message: /document:data\.aws_iam_policy_document\.reader is not one of the function's policy sources/,
  },
  {
    check: 'ecs-task-role',
    what: 'PutMetricData without the namespace condition',
    edits: [
      {
        file: 'ecs_iam.tf',
        find: '      test     = "StringEquals"\n      variable = "cloudwatch:namespace"',
        replace: '      test     = "StringLike"\n      variable = "cloudwatch:namespace"',
      },
    ],
    message: /PutMetricData must carry condition StringEquals cloudwatch:namespace/,
  },
  {
    check: 'ecs-task-role',
    what: 'a managed policy on the task role',
    edits: [
      append(
        'ecs_iam.tf',
        '\nresource "aws_iam_role_policy_attachment" "task_admin" {\n  count      = local.ecs_runner ? 1 : 0\n  role       = aws_iam_role.ecs_task[0].name\n  policy_arn = "arn:aws:iam::aws:policy/AdministratorAccess"\n}\n',
      ),
    ],
    message: /attaches more policies to aws_iam_role\.ecs_task/,
  },
  {
    check: 'verify-role',
    what: "the drill role's trust without the confused-deputy conditions",
    edits: [
      {
        file: 'ecs_iam.tf',
        find: '    condition {\n      test     = "ArnLike"\n      variable = "aws:SourceArn"\n      values   = [local.ecs_task_trust_source_arn]\n    }\n',
        replace: '',
      },
    ],
    message: /task role trust lacks aws:SourceAccount \/ aws:SourceArn/,
  },
  {
    check: 'verify-role',
    what: 'the drill allowed to write any object (overwrite backups)',
    edits: [
      {
        file: 'operators.tf',
        find: '    resources = ["${aws_s3_bucket.this.arn}/${local.backup_prefix}/*${local.verify_record_suffix}"]',
        replace: '    resources = ["${aws_s3_bucket.this.arn}/${local.backup_prefix}/*"]',
      },
    ],
    message: /s3:PutObject must be on .*\*\.verify\.json only/,
  },
  {
    check: 'verify-role',
    what: 'the drill given a delete policy of its own',
    edits: [
      append(
        'verify_drill.tf',
        '\ndata "aws_iam_policy_document" "drill_cleanup" {\n  statement {\n    actions   = ["s3:DeleteObject"]\n    resources = ["${aws_s3_bucket.this.arn}/*"]\n  }\n}\n\nresource "aws_iam_role_policy" "drill_cleanup" {\n  count  = var.verify_enabled ? 1 : 0\n  name   = "cleanup"\n  role   = aws_iam_role.verify_task[0].id\n  policy = data.aws_iam_policy_document.drill_cleanup.json\n}\n',
      ),
    ],
    message: /action s3:DeleteObject is not allowed/,
  },
  {
    check: 'ecs-execution-role',
    what: 'image pull from any repository',
    edits: [{ file: 'ecs_iam.tf', find: '      resources = statement.value\n', replace: '      resources = ["*"]\n' }],
    message: /image pull must be scoped to the repositories|resource \* for ecr:BatchGetImage/,
  },
  {
    check: 'ecs-scheduler',
    what: 'PassRole without iam:PassedToService',
    edits: [
      {
        file: 'ecs_iam.tf',
        find: '    condition {\n      test     = "StringEquals"\n      variable = "iam:PassedToService"\n      values   = ["ecs-tasks.amazonaws.com"]\n    }\n',
        replace: '',
      },
    ],
    message: /iam:PassRole must carry condition StringEquals iam:PassedToService/,
  },
  {
    check: 'ecs-scheduler',
    what: "the function's role added to the passable roles",
    edits: [
      {
        file: 'ecs_iam.tf',
        find: '    local.ecs_runner ? [aws_iam_role.ecs_task[0].arn] : [],\n    var.verify_enabled ? [aws_iam_role.verify_task[0].arn] : [],\n  )',
        replace:
          '    local.ecs_runner ? [aws_iam_role.ecs_task[0].arn] : [],\n    var.verify_enabled ? [aws_iam_role.verify_task[0].arn] : [],\n    local.lambda_runner ? [aws_iam_role.lambda[0].arn] : [],\n  )',
      },
    ],
    message: /may pass exactly the execution, task and drill roles, passes .*aws_iam_role\.lambda/,
  },
  {
    check: 'ecs-scheduler',
    what: 'a public IP for the backup task',
    edits: [{ file: 'ecs_schedule.tf', find: '        assign_public_ip = false', replace: '        assign_public_ip = true' }],
    message: /assign_public_ip must be literally false/,
  },
  {
    check: 'ecs-task-definition',
    what: 'a writable root filesystem',
    edits: [{ file: 'ecs.tf', find: '    readonlyRootFilesystem = true', replace: '    readonlyRootFilesystem = false' }],
    message: /container readonlyRootFilesystem must be true/,
  },
  {
    check: 'ecs-task-definition',
    what: 'the drill container overriding privileged',
    edits: [
      { file: 'verify_drill.tf', find: '    name        = "verify"\n', replace: '    name        = "verify"\n    privileged  = true\n' },
    ],
    message: /local\.verify_container overrides the hardening key privileged/,
  },
  {
    check: 'ecs-task-definition',
    what: "the source database's host handed to the drill",
    edits: [
      {
        file: 'verify_drill.tf',
        find: '    POWERTOOLS_SERVICE_NAME      = local.name\n',
        replace: '    POWERTOOLS_SERVICE_NAME      = local.name\n    PGHOST                       = local.db_host\n',
      },
    ],
    message: /the drill must not get PGHOST/,
  },
  {
    check: 'ecs-network',
    what: "the drill's group allowed to reach the database",
    edits: [
      append(
        'verify_drill.tf',
        '\nresource "aws_vpc_security_group_egress_rule" "verify_to_db" {\n  count                        = var.verify_enabled ? length(local.db_security_group_ids) : 0\n  security_group_id            = aws_security_group.verify_drill[0].id\n  ip_protocol                  = "tcp"\n  from_port                    = local.db_port\n  to_port                      = local.db_port\n  referenced_security_group_id = local.db_security_group_ids[count.index]\n}\n',
      ),
    ],
    message: /unexpected egress rule on the drill's group/,
  },
  {
    check: 'ecs-network',
    what: "the tasks' API egress on every port",
    edits: [
      {
        file: 'ecs_network.tf',
        find: '  description                  = "HTTPS to ECR, CloudWatch Logs and metrics (${each.value.task} task)"\n  ip_protocol                  = "tcp"\n  from_port                    = 443',
        replace:
          '  description                  = "HTTPS to ECR, CloudWatch Logs and metrics (${each.value.task} task)"\n  ip_protocol                  = "-1"\n  from_port                    = 443',
      },
    ],
    message: /must be tcp 443 only, is -1 443-443/,
  },
  {
    check: 'ecs-task-failed-rule',
    what: 'the rule not matching non-zero exit codes',
    edits: [{ file: 'ecs_schedule.tf', find: '        { containers = { exitCode = [{ anything-but = 0 }] } },\n', replace: '' }],
    message: /must match a non-zero container exit code/,
  },
  {
    check: 'drill-alarms',
    what: 'a stale drill alarm that stays quiet without data',
    edits: [
      {
        file: 'verify_drill.tf',
        find: '  threshold           = 1\n  treat_missing_data  = "breaching"',
        replace: '  threshold           = 1\n  treat_missing_data  = "notBreaching"',
      },
    ],
    message: /must treat missing data as breaching/,
  },
  {
    check: 'dashboard',
    what: 'no duration widget',
    edits: [{ file: 'dashboard.tf', find: '      BackupDuration   = "Maximum"\n', replace: '' }],
    message: /no widget for BackupDuration/,
  },
];

describe('ECS, drill and dashboard checks fail on', () => {
  for (const c of cases) {
    it(`${c.check}: ${c.what}`, async () => {
      const got = await findings(c.check, c.edits);
      assert.ok(
        got.some((f) => f.check === c.check && c.message.test(f.message)),
        `expected a "${c.check}" finding matching ${c.message}, got:\n${got.map((f) => f.message).join('\n') || '(none)'}`,
      );
    });
  }
});
