// The jitbot custom role, defined once from the same JSON files `az role definition create` takes, assignable in
// every subscription jitbot searches. Deployed at subscription scope by main.bicep.
targetScope = 'subscription'

@description('Create "jitbot admin" (enable/disable JIT, early revoke) instead of "jitbot requester".')
param admin bool = false

@description('Subscriptions where the role may be assigned.')
@minLength(1)
param assignableSubscriptionIds array

var requesterRole = loadJsonContent('jitbot-role.json')
var adminRole = loadJsonContent('jitbot-admin-role.json')
var role = admin ? adminRole : requesterRole

resource definition 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, role.Name)
  properties: {
    roleName: role.Name
    description: role.Description
    type: 'CustomRole'
    permissions: [
      {
        actions: role.Actions
        notActions: role.NotActions
        dataActions: role.DataActions
        notDataActions: role.NotDataActions
      }
    ]
    assignableScopes: [for id in assignableSubscriptionIds: '/subscriptions/${id}']
  }
}

@description('The role definition name (a GUID), the same in every subscription it is assignable in.')
output roleDefinitionName string = definition.name
