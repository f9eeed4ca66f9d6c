CREATE DATABASE prefect OWNER casebridge;
