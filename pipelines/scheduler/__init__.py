"""What Airflow needs from the platform, and the only package besides dags/ that imports Airflow: the local
Airflow's environment and the warehouse writers' pool (environment.py), the assets the DAGs produce and
watch (assets.py), the inbox watcher that runs in the triggerer (inbox_watch.py), and what the scheduler
calls when a feed's task fails for good (callbacks.py). The DAG files in dags/ only wire these to the stages."""
