// Alerts as code: four log-search alert rules on Application Insights and one e-mail action group.
// The KQL lives in queries/*.kql and reads the events shared/telemetry.py emits (Event enum);
// docs/operations.md says how to answer each alert.
param location string = resourceGroup().location
param tags object = {}
param actionGroupName string
param alertNamePrefix string
@description('Where alert e-mails go.')
param alertEmail string
param applicationInsightsId string
@minValue(1)
@maxValue(100)
param failureRateThresholdPercent int = 20

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: actionGroupName
  location: 'Global'
  tags: tags
  properties: {
    groupShortName: 'loonbrug'
    enabled: true
    emailReceivers: [
      {
        name: 'operations'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

// Dead man's switch: an office had no successful nightly for 26 hours. Stays fired until resolved
// by hand, so a silent app cannot make it disappear.
resource noSuccessfulNightly 'Microsoft.Insights/scheduledQueryRules@2022-06-15' = {
  name: '${alertNamePrefix}-no-successful-nightly'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'Loonbrug: geen geslaagde nachtelijke synchronisatie in 26 uur'
    description: 'Voor dit kantoor is de nachtelijke synchronisatie al 26 uur niet geslaagd (event sync.nightly.completed). Zie docs/operations.md.'
    severity: 1
    enabled: true
    scopes: [applicationInsightsId]
    evaluationFrequency: 'PT1H'
    windowSize: 'PT1H'
    overrideQueryTimeRange: 'P2D'
    criteria: {
      allOf: [
        {
          query: loadTextContent('queries/no-successful-nightly.kql')
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          dimensions: [
            {
              name: 'officeId'
              operator: 'Include'
              values: ['*']
            }
          ]
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: false
    actions: {
      actionGroups: [actionGroup.id]
    }
  }
}

// Any sync job on the poison queue.
resource poisonMessage 'Microsoft.Insights/scheduledQueryRules@2022-06-15' = {
  name: '${alertNamePrefix}-poison-message'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'Loonbrug: synchronisatietaak in de poison-queue'
    description: 'Een synchronisatietaak is na alle pogingen opgegeven (event sync.poison). Zie docs/operations.md.'
    severity: 1
    enabled: true
    scopes: [applicationInsightsId]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      allOf: [
        {
          query: loadTextContent('queries/poison.kql')
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          dimensions: [
            {
              name: 'officeId'
              operator: 'Include'
              values: ['*']
            }
          ]
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: [actionGroup.id]
    }
  }
}

// Too many journal runs of an office failed to book in the last 24 hours.
resource failureRate 'Microsoft.Insights/scheduledQueryRules@2022-06-15' = {
  name: '${alertNamePrefix}-failure-rate'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'Loonbrug: te veel mislukte journaalposten'
    description: 'Meer dan ${failureRateThresholdPercent}% van de journaalposten van dit kantoor is de afgelopen 24 uur niet geboekt (event sync.journal_run.failed). Zie docs/operations.md.'
    severity: 2
    enabled: true
    scopes: [applicationInsightsId]
    evaluationFrequency: 'PT1H'
    windowSize: 'PT1H'
    overrideQueryTimeRange: 'P1D'
    criteria: {
      allOf: [
        {
          query: loadTextContent('queries/failure-rate.kql')
          timeAggregation: 'Maximum'
          metricMeasureColumn: 'failureRatePercent'
          operator: 'GreaterThan'
          threshold: failureRateThresholdPercent
          dimensions: [
            {
              name: 'officeId'
              operator: 'Include'
              values: ['*']
            }
          ]
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: [actionGroup.id]
    }
  }
}

// A Loket (or AFAS) connection needs a new consent.
resource reauthorize 'Microsoft.Insights/scheduledQueryRules@2022-06-15' = {
  name: '${alertNamePrefix}-reauthorize'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'Loonbrug: koppeling vraagt opnieuw toestemming'
    description: 'Loket of AFAS weigert de opgeslagen toegang; een beheerder van het kantoor moet de koppeling opnieuw autoriseren (event connection.reauthorize). Zie docs/operations.md.'
    severity: 2
    enabled: true
    scopes: [applicationInsightsId]
    evaluationFrequency: 'PT15M'
    windowSize: 'PT1H'
    criteria: {
      allOf: [
        {
          query: loadTextContent('queries/reauthorize.kql')
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          dimensions: [
            {
              name: 'officeId'
              operator: 'Include'
              values: ['*']
            }
            {
              name: 'provider'
              operator: 'Include'
              values: ['*']
            }
          ]
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: [actionGroup.id]
    }
  }
}

output actionGroupId string = actionGroup.id
output alertRuleIds array = [
  noSuccessfulNightly.id
  poisonMessage.id
  failureRate.id
  reauthorize.id
]
