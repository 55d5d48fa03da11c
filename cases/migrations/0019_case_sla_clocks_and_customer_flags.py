"""Service-level clocks on the case row (cases/sla.py) and the VIP and press flags on customers.

New columns are NULL or have a database default: no table rewrite on a big desk.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('cases', '0018_cheaper_desk_fold'),
        ('sla', '0001_policies_and_business_hours'),
    ]

    operations = [
        migrations.AddField(
            model_name='case',
            name='awaiting_since',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='case',
            name='first_response_due_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='case',
            name='resolution_due_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='case',
            name='response_due_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='case',
            name='sla_due_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='case',
            name='sla_policy',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='sla.policy'),
        ),
        migrations.AddField(
            model_name='case',
            name='sla_state',
            field=models.CharField(blank=True, db_default='', default='', max_length=10),
        ),
        migrations.AddField(
            model_name='case',
            name='sla_warn_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='customer',
            name='is_press',
            field=models.BooleanField(db_default=False, default=False, verbose_name='press'),
        ),
        migrations.AddField(
            model_name='customer',
            name='is_vip',
            field=models.BooleanField(db_default=False, default=False, verbose_name='VIP'),
        ),
        migrations.AlterField(
            model_name='desksettings',
            name='first_response_sla_minutes',
            field=models.PositiveIntegerField(default=60, help_text="The desk's default service level, around the clock, for every case no service-level policy picks (Service levels → Policies).", verbose_name='first-response target (minutes)'),
        ),
    ]
